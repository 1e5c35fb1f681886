package pvcprotection

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

const ns = "ns"

func claim(name string, mods ...func(*corev1.PersistentVolumeClaim)) *corev1.PersistentVolumeClaim {
	c := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, UID: types.UID("uid-" + name)}}
	for _, m := range mods {
		m(c)
	}
	return c
}

func pod(name, node string, mods ...func(*corev1.Pod)) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, UID: types.UID("uid-" + name)},
		Spec:       corev1.PodSpec{NodeName: node},
		Status:     corev1.PodStatus{Phase: corev1.PodRunning},
	}
	for _, m := range mods {
		m(p)
	}
	return p
}

func withClaim(claimName string) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		p.Spec.Volumes = append(p.Spec.Volumes, corev1.Volume{Name: "v-" + claimName, VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claimName},
		}})
	}
}

func withEphemeral(volume string) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		p.Spec.Volumes = append(p.Spec.Volumes, corev1.Volume{Name: volume, VolumeSource: corev1.VolumeSource{
			Ephemeral: &corev1.EphemeralVolumeSource{},
		}})
	}
}

func phase(ph corev1.PodPhase) func(*corev1.Pod) {
	return func(p *corev1.Pod) { p.Status.Phase = ph }
}

func deleting(grace int64) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		p.DeletionTimestamp = &metav1.Time{}
		p.DeletionGracePeriodSeconds = ptr.To(grace)
	}
}

func controlledBy(p *corev1.Pod) func(*corev1.PersistentVolumeClaim) {
	return func(c *corev1.PersistentVolumeClaim) {
		c.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "Pod", Name: p.Name, UID: p.UID, Controller: ptr.To(true)}}
	}
}

func TestPodUsesPVC(t *testing.T) {
	eph := pod("p", "node", withEphemeral("scratch"))
	tests := []struct {
		name string
		pod  *corev1.Pod
		pvc  *corev1.PersistentVolumeClaim
		want bool
	}{
		{"F1 a running scheduled pod uses its claim", pod("p", "node", withClaim("data")), claim("data"), true},
		{"F1 a Succeeded scheduled pod still uses its claim", pod("p", "node", withClaim("data"), phase(corev1.PodSucceeded)), claim("data"), true},
		{"F1 a Failed scheduled pod still uses its claim", pod("p", "node", withClaim("data"), phase(corev1.PodFailed)), claim("data"), true},
		{"F1 a terminating scheduled pod still uses its claim", pod("p", "node", withClaim("data"), deleting(30)), claim("data"), true},
		{"F1 a force-deleted scheduled pod still uses a plain claim", pod("p", "node", withClaim("data"), deleting(0)), claim("data"), true},
		{"F1 an unscheduled pod does not use its claim", pod("p", "", withClaim("data")), claim("data"), false},
		{"F1 an unscheduled Pending pod does not use its claim", pod("p", "", withClaim("data"), phase(corev1.PodPending)), claim("data"), false},
		{"F1 a pod naming another claim does not use this one", pod("p", "node", withClaim("other")), claim("data"), false},
		{"F1 a pod in another namespace does not use the claim", pod("p", "node", withClaim("data"), func(p *corev1.Pod) { p.Namespace = "other" }), claim("data"), false},
		{"F1 a pod with no volumes uses nothing", pod("p", "node"), claim("data"), false},
		{"F1 the second volume counts", pod("p", "node", withClaim("a"), withClaim("data")), claim("data"), true},
		{"F1 a scheduled pod uses its ephemeral claim", eph, claim("p-scratch", controlledBy(eph)), true},
		{"F1 an ephemeral claim not controlled by the pod is not used", eph, claim("p-scratch"), false},
		{"F1 an ephemeral claim controlled by another pod is not used", eph, claim("p-scratch", controlledBy(pod("q", "node"))), false},
		{"F1 an ephemeral claim of a shut-down pod is not used", pod("p", "node", withEphemeral("scratch"), deleting(0)), claim("p-scratch", controlledBy(eph)), false},
		{"F1 an ephemeral claim of a gracefully terminating pod is used", pod("p", "node", withEphemeral("scratch"), deleting(30)), claim("p-scratch", controlledBy(eph)), true},
		{"F1 an ephemeral claim of a Succeeded pod is used", pod("p", "node", withEphemeral("scratch"), phase(corev1.PodSucceeded)), claim("p-scratch", controlledBy(eph)), true},
		{"F1 an ephemeral claim of an unscheduled pod is not used", pod("p", "", withEphemeral("scratch")), claim("p-scratch", controlledBy(eph)), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := podUsesPVC(tt.pod, tt.pvc); got != tt.want {
				t.Errorf("podUsesPVC = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestMayReleaseClaims(t *testing.T) {
	running := func(p *corev1.Pod) {
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}
	}
	tests := []struct {
		name    string
		pod     *corev1.Pod
		deleted bool
		want    bool
	}{
		{"a deleted pod releases", pod("p", "node", running), true, true},
		{"a running scheduled pod holds", pod("p", "node", running), false, false},
		{"an unscheduled pod releases", pod("p", ""), false, true},
		{"a Succeeded pod may release once deleted", pod("p", "node", phase(corev1.PodSucceeded)), false, true},
		{"a terminating pod with no running container", pod("p", "node", deleting(30)), false, true},
		{"a terminating pod with a running container holds", pod("p", "node", deleting(30), running), false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := mayReleaseClaims(tt.pod, tt.deleted); got != tt.want {
				t.Errorf("mayReleaseClaims = %v, want %v", got, tt.want)
			}
		})
	}
}
