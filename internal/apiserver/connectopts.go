package apiserver

import (
	"net/url"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// The options of the node-proxied subresources come from the query, read
// the way upstream's generated url.Values conversions read them (with the
// same apimachinery helpers: "0" and "false" are false, any other value
// true; integers must parse). A value that does not parse is 400
// BadRequest, as upstream's connect and get-with-options handlers answer.

// queryReader reads typed query parameters, keeping the first error.
type queryReader struct {
	q   url.Values
	err error
}

func (r *queryReader) string(key string, out *string) {
	if v, ok := r.q[key]; ok && len(v) > 0 && r.err == nil {
		r.err = runtime.Convert_Slice_string_To_string(&v, out, nil)
	}
}

func (r *queryReader) bool(key string, out *bool) {
	if v, ok := r.q[key]; ok && len(v) > 0 && r.err == nil {
		r.err = runtime.Convert_Slice_string_To_bool(&v, out, nil)
	}
}

func (r *queryReader) int64(key string, out **int64) {
	if v, ok := r.q[key]; ok && len(v) > 0 && r.err == nil {
		r.err = runtime.Convert_Slice_string_To_Pointer_int64(&v, out, nil)
	}
}

func (r *queryReader) time(key string, out **metav1.Time) {
	if v, ok := r.q[key]; ok && len(v) > 0 && r.err == nil {
		r.err = metav1.Convert_Slice_string_To_Pointer_v1_Time(&v, out, nil)
	}
}

func (r *queryReader) done() error {
	if r.err != nil {
		return apierrors.NewBadRequest(r.err.Error())
	}
	return nil
}

func podLogOptions(q url.Values) (*corev1.PodLogOptions, error) {
	o := &corev1.PodLogOptions{}
	r := &queryReader{q: q}
	r.string("container", &o.Container)
	r.bool("follow", &o.Follow)
	r.bool("previous", &o.Previous)
	r.int64("sinceSeconds", &o.SinceSeconds)
	r.time("sinceTime", &o.SinceTime)
	r.bool("timestamps", &o.Timestamps)
	r.int64("tailLines", &o.TailLines)
	r.int64("limitBytes", &o.LimitBytes)
	r.bool("insecureSkipTLSVerifyBackend", &o.InsecureSkipTLSVerifyBackend)
	if v, ok := q["stream"]; ok && len(v) > 0 {
		s := v[0]
		o.Stream = &s
	}
	return o, r.done()
}

func podExecOptions(q url.Values) (*corev1.PodExecOptions, error) {
	o := &corev1.PodExecOptions{}
	r := &queryReader{q: q}
	r.bool("stdin", &o.Stdin)
	r.bool("stdout", &o.Stdout)
	r.bool("stderr", &o.Stderr)
	r.bool("tty", &o.TTY)
	r.string("container", &o.Container)
	o.Command = q["command"]
	return o, r.done()
}

func podAttachOptions(q url.Values) (*corev1.PodAttachOptions, error) {
	o := &corev1.PodAttachOptions{}
	r := &queryReader{q: q}
	r.bool("stdin", &o.Stdin)
	r.bool("stdout", &o.Stdout)
	r.bool("stderr", &o.Stderr)
	r.bool("tty", &o.TTY)
	r.string("container", &o.Container)
	return o, r.done()
}

func podPortForwardOptions(q url.Values) (*corev1.PodPortForwardOptions, error) {
	o := &corev1.PodPortForwardOptions{}
	if v, ok := q["ports"]; ok && len(v) > 0 {
		if err := metav1.Convert_Slice_string_To_Slice_int32(&v, &o.Ports, nil); err != nil {
			return nil, apierrors.NewBadRequest(err.Error())
		}
	}
	return o, nil
}

// streamParams are the agent's query for exec and attach, as upstream's
// streamParams writes them (the kubelet's names: input, output, error,
// tty, command).
func streamParams(stdin, stdout, stderr, tty bool, command []string) url.Values {
	p := url.Values{}
	for _, f := range []struct {
		on  bool
		key string
	}{{stdin, corev1.ExecStdinParam}, {stdout, corev1.ExecStdoutParam}, {stderr, corev1.ExecStderrParam}, {tty, corev1.ExecTTYParam}} {
		if f.on {
			p.Add(f.key, "1")
		}
	}
	for _, c := range command {
		p.Add(corev1.ExecCommandParam, c)
	}
	return p
}
