package rootcacert

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/informers"
	kubefake "k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
)

const testCA = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"

const upstreamDescription = "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters."

func namespace(phase corev1.NamespacePhase) *corev1.Namespace {
	n := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "a"}, Status: corev1.NamespaceStatus{Phase: phase}}
	if phase == corev1.NamespaceTerminating {
		now := metav1.Now()
		n.DeletionTimestamp = &now
	}
	return n
}

func published() *corev1.ConfigMap {
	return &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: ConfigMapName, Namespace: "a", Annotations: map[string]string{DescriptionAnnotation: Description}},
		Data:       map[string]string{DataKey: testCA},
	}
}

type errString string

func (e errString) Error() string { return string(e) }

func TestSync(t *testing.T) {
	if Description != upstreamDescription {
		t.Fatalf("Description = %q, want upstream's text", Description)
	}
	tampered := published()
	tampered.Data = map[string]string{DataKey: "junk", "extra": "x"}
	tampered.Annotations["owner"] = "me"
	undescribed := published()
	undescribed.Annotations = nil
	terminating := apierrors.NewForbidden(schema.GroupResource{Resource: "configmaps"}, ConfigMapName, errString("being terminated"))
	terminating.ErrStatus.Details.Causes = []metav1.StatusCause{{Type: corev1.NamespaceTerminatingCause}}

	tests := []struct {
		name      string
		ns        *corev1.Namespace
		existing  *corev1.ConfigMap
		createErr error
		wantErr   bool
		// want is the ConfigMap written ("create" or "update"), if any.
		wantVerb string
		want     *corev1.ConfigMap
	}{
		{name: "an Active namespace gets the ConfigMap", ns: namespace(corev1.NamespaceActive),
			wantVerb: "create", want: &corev1.ConfigMap{
				ObjectMeta: metav1.ObjectMeta{Name: ConfigMapName, Namespace: "a", Annotations: map[string]string{DescriptionAnnotation: upstreamDescription}},
				Data:       map[string]string{"ca.crt": testCA},
			}},
		{name: "a correct ConfigMap is left alone", ns: namespace(corev1.NamespaceActive), existing: published()},
		{name: "changed data is reset, other annotations kept", ns: namespace(corev1.NamespaceActive), existing: tampered,
			wantVerb: "update", want: &corev1.ConfigMap{
				ObjectMeta: metav1.ObjectMeta{Name: ConfigMapName, Namespace: "a", Annotations: map[string]string{DescriptionAnnotation: Description, "owner": "me"}},
				Data:       map[string]string{DataKey: testCA},
			}},
		{name: "a missing description is restored", ns: namespace(corev1.NamespaceActive), existing: undescribed,
			wantVerb: "update", want: published()},
		{name: "E5 a terminating namespace is skipped", ns: namespace(corev1.NamespaceTerminating)},
		{name: "a namespace the cache does not know is skipped"},
		{name: "E5 NamespaceTerminating on create is not retried", ns: namespace(corev1.NamespaceActive),
			createErr: terminating, wantVerb: "create", want: published()},
		{name: "other create errors are retried", ns: namespace(corev1.NamespaceActive),
			createErr: apierrors.NewInternalError(errString("boom")), wantErr: true, wantVerb: "create", want: published()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client := kubefake.NewClientset()
			if tt.createErr != nil {
				client.PrependReactor("create", "configmaps", func(clienttesting.Action) (bool, runtime.Object, error) {
					return true, nil, tt.createErr
				})
			}
			f := informers.NewSharedInformerFactory(client, 0)
			c, err := New(Config{Client: client, Informers: f, RootCA: []byte(testCA)})
			if err != nil {
				t.Fatal(err)
			}
			if tt.ns != nil {
				if err := f.Core().V1().Namespaces().Informer().GetIndexer().Add(tt.ns); err != nil {
					t.Fatal(err)
				}
			}
			if tt.existing != nil {
				if err := f.Core().V1().ConfigMaps().Informer().GetIndexer().Add(tt.existing); err != nil {
					t.Fatal(err)
				}
				if err := client.Tracker().Add(tt.existing); err != nil {
					t.Fatal(err)
				}
			}
			err = c.sync(context.Background(), "a")
			if (err != nil) != tt.wantErr {
				t.Fatalf("sync = %v, want error %v", err, tt.wantErr)
			}
			var writes []clienttesting.Action
			for _, a := range client.Actions() {
				if a.GetVerb() == "create" || a.GetVerb() == "update" {
					writes = append(writes, a)
				}
			}
			if tt.wantVerb == "" {
				if len(writes) != 0 {
					t.Fatalf("wrote %v, want nothing", writes)
				}
				return
			}
			if len(writes) != 1 || writes[0].GetVerb() != tt.wantVerb {
				t.Fatalf("wrote %v, want one %s", writes, tt.wantVerb)
			}
			var got *corev1.ConfigMap
			switch a := writes[0].(type) {
			case clienttesting.CreateAction:
				got = a.GetObject().(*corev1.ConfigMap)
			case clienttesting.UpdateAction:
				got = a.GetObject().(*corev1.ConfigMap)
			}
			got = got.DeepCopy()
			got.Namespace = "a"
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("written ConfigMap (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNewNeedsRootCA(t *testing.T) {
	client := kubefake.NewClientset()
	if _, err := New(Config{Client: client, Informers: informers.NewSharedInformerFactory(client, 0)}); err == nil {
		t.Error("New without RootCA should fail")
	}
}
