package kubeletapi

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// LogOptions are the kubelet's log query, resolved: the fields match
// process.LogOptions so the agent converts field by field.
type LogOptions struct {
	// Tail is the number of lines from the end to start with; < 0 means
	// all.
	Tail int64
	// SinceTime skips entries before it (sinceTime, or now - sinceSeconds
	// on the injected clock); zero means none.
	SinceTime time.Time
	// Follow streams new entries until the attempt exits.
	Follow bool
	// Timestamps prefixes each line with its RFC 3339 time.
	Timestamps bool
	// LimitBytes stops after that many bytes; 0 means no limit.
	LimitBytes int64
	// Stream is "stdout" or "stderr" (the query's Stdout or Stderr,
	// PodLogsQuerySplitStreams); "" means both.
	Stream string
}

// containerLogs is the kubelet's getContainerLogs: 400 for a request it
// cannot read, 422 for invalid options, 404 for an unknown pod or
// container, then validateContainerLogStatus's 400s, then the log.
func (s *Server) containerLogs(w http.ResponseWriter, r *http.Request) {
	ns, name, container := r.PathValue("ns"), r.PathValue("pod"), r.PathValue("container")
	if name == "" {
		http.Error(w, `{"message": "Missing podID."}`, http.StatusBadRequest)
		return
	}
	if container == "" {
		http.Error(w, `{"message": "Missing container name."}`, http.StatusBadRequest)
		return
	}
	q, err := parseLogQuery(r.URL.Query())
	if err != nil {
		http.Error(w, `{"message": "Unable to decode query."}`, http.StatusBadRequest)
		return
	}
	if err := q.validate(); err != nil {
		// The kubelet does not say what is invalid; the API server has
		// validated with the full messages before proxying.
		s.cfg.Logger.Debug("invalid log query", "err", err)
		http.Error(w, `{"message": "Invalid request."}`, http.StatusUnprocessableEntity)
		return
	}
	pod, ok := s.cfg.Pods.GetPodByName(ns, name)
	if !ok {
		http.Error(w, fmt.Sprintf("pod %q does not exist", name), http.StatusNotFound)
		return
	}
	if !containerSpec(pod, container) {
		http.Error(w, fmt.Sprintf("container %q not found in pod %q", container, name), http.StatusNotFound)
		return
	}
	containerID, err := containerLogID(pod, container, q.previous)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	opts := LogOptions{Tail: -1, Follow: q.follow, Timestamps: q.timestamps, Stream: q.stream}
	if q.tailLines != nil {
		opts.Tail = *q.tailLines
	}
	if q.limitBytes != nil {
		opts.LimitBytes = *q.limitBytes
	}
	switch {
	case q.sinceTime != nil:
		opts.SinceTime = q.sinceTime.Time
	case q.sinceSeconds != nil:
		opts.SinceTime = s.cfg.Clock.Now().Add(-time.Duration(*q.sinceSeconds) * time.Second)
	}
	out := &logResponse{w: w, rc: http.NewResponseController(w), flush: q.follow}
	err = s.cfg.Pods.ContainerLogs(r.Context(), pod, container, containerID, opts, out)
	if err == nil || r.Context().Err() != nil {
		return
	}
	if !out.started {
		// Nothing sent yet: the kubelet's answer to a runtime error.
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	// Mid-stream there is no way to tell the client but to cut it short.
	s.cfg.Logger.Warn("container log ended with an error", "namespace", ns, "pod", name, "container", container, "err", err)
}

// logResponse sends the 200 with the first byte (so a runtime error
// before any output can still be a 400) and flushes when following, so
// each line reaches kubectl logs -f as it is written.
type logResponse struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	flush   bool
	started bool
}

func (o *logResponse) Write(p []byte) (int, error) {
	if !o.started {
		o.started = true
		o.w.Header().Set("Content-Type", "text/plain")
		o.w.WriteHeader(http.StatusOK)
	}
	n, err := o.w.Write(p)
	if err == nil && o.flush {
		err = o.rc.Flush()
	}
	return n, err
}

// logQuery is corev1.PodLogOptions as the kubelet decodes it from the
// query (the legacy "tail" parameter included).
type logQuery struct {
	follow, previous, timestamps bool
	tailLines, sinceSeconds      *int64
	limitBytes                   *int64
	sinceTime                    *metav1.Time
	stream                       string
}

func parseLogQuery(v url.Values) (logQuery, error) {
	var q logQuery
	var err error
	boolean := func(key string, into *bool) {
		if s := v.Get(key); s != "" && err == nil {
			*into, err = strconv.ParseBool(s)
		}
	}
	integer := func(key string, into **int64) {
		if s := v.Get(key); s != "" && err == nil {
			var n int64
			if n, err = strconv.ParseInt(s, 10, 64); err == nil {
				*into = &n
			}
		}
	}
	boolean("follow", &q.follow)
	boolean("previous", &q.previous)
	boolean("timestamps", &q.timestamps)
	// "tail" is the kubelet's backwards-compatible name; "all" means no tail.
	if t := v.Get("tail"); t != "" && t != "all" {
		v = cloneWith(v, "tailLines", t)
	}
	integer("tailLines", &q.tailLines)
	integer("sinceSeconds", &q.sinceSeconds)
	integer("limitBytes", &q.limitBytes)
	if s := v.Get("sinceTime"); s != "" && err == nil {
		var t time.Time
		if t, err = time.Parse(time.RFC3339, s); err == nil {
			q.sinceTime = &metav1.Time{Time: t}
		}
	}
	switch st := v.Get("stream"); st {
	case "", string(corev1.LogStreamAll):
	case string(corev1.LogStreamStdout), string(corev1.LogStreamStderr):
		q.stream = strings.ToLower(st)
	default:
		if err == nil {
			err = fmt.Errorf("stream %q: not one of All, Stdout, Stderr", st)
		}
	}
	if err != nil {
		return logQuery{}, fmt.Errorf("log query: %w", err)
	}
	return q, nil
}

func cloneWith(v url.Values, key, value string) url.Values {
	c := make(url.Values, len(v)+1)
	for k, vs := range v {
		c[k] = vs
	}
	c.Set(key, value)
	return c
}

// validate is ValidatePodLogOptions's rules, with its messages.
func (q logQuery) validate() error {
	var errs []error
	if q.tailLines != nil && *q.tailLines < 0 {
		errs = append(errs, fmt.Errorf("tailLines: Invalid value: %d: must be greater than or equal to 0", *q.tailLines))
	}
	if q.limitBytes != nil && *q.limitBytes < 1 {
		errs = append(errs, fmt.Errorf("limitBytes: Invalid value: %d: must be greater than 0", *q.limitBytes))
	}
	if q.sinceSeconds != nil && q.sinceTime != nil {
		errs = append(errs, errors.New("sinceSeconds: Forbidden: at most one of `sinceTime` or `sinceSeconds` may be specified"))
	}
	if q.sinceSeconds != nil && *q.sinceSeconds < 1 {
		errs = append(errs, fmt.Errorf("sinceSeconds: Invalid value: %d: must be greater than 0", *q.sinceSeconds))
	}
	return errors.Join(errs...)
}

// containerLogID is the kubelet's validateContainerLogStatus: which
// attempt's log a request reads, from the pod's container statuses, with
// the kubelet's texts for when there is none.
func containerLogID(pod *corev1.Pod, container string, previous bool) (string, error) {
	st, found := findStatus(pod.Status.ContainerStatuses, container)
	if !found {
		st, found = findStatus(pod.Status.InitContainerStatuses, container)
	}
	if !found {
		st, found = findStatus(pod.Status.EphemeralContainerStatuses, container)
	}
	podName := pod.Name
	if !found {
		return "", fmt.Errorf("container %q in pod %q is not available", container, podName)
	}
	last := st.LastTerminationState.Terminated
	waiting, running, terminated := st.State.Waiting, st.State.Running, st.State.Terminated
	switch {
	case previous:
		if last == nil || last.ContainerID == "" {
			return "", fmt.Errorf("previous terminated container %q in pod %q not found", container, podName)
		}
		return last.ContainerID, nil
	case running != nil:
		return st.ContainerID, nil
	case terminated != nil:
		// The next attempt may not have started: then the last one's log.
		if terminated.ContainerID != "" {
			return terminated.ContainerID, nil
		}
		if last != nil && last.ContainerID != "" {
			return last.ContainerID, nil
		}
		return "", fmt.Errorf("container %q in pod %q is terminated", container, podName)
	case last != nil:
		if last.ContainerID == "" {
			return "", fmt.Errorf("container %q in pod %q is terminated", container, podName)
		}
		return last.ContainerID, nil
	case waiting != nil:
		switch waiting.Reason {
		case "ErrImagePull":
			return "", fmt.Errorf("container %q in pod %q is waiting to start: image can't be pulled", container, podName)
		case "ImagePullBackOff":
			return "", fmt.Errorf("container %q in pod %q is waiting to start: trying and failing to pull image", container, podName)
		default:
			return "", fmt.Errorf("container %q in pod %q is waiting to start: %v", container, podName, waiting.Reason)
		}
	default:
		return "", fmt.Errorf("container %q in pod %q is waiting to start - no logs yet", container, podName)
	}
}

func findStatus(list []corev1.ContainerStatus, name string) (corev1.ContainerStatus, bool) {
	for _, s := range list {
		if s.Name == name {
			return s, true
		}
	}
	return corev1.ContainerStatus{}, false
}

func typeMeta(kind string) metav1.TypeMeta {
	return metav1.TypeMeta{Kind: kind, APIVersion: "v1"}
}
