package deployment

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

func TestResolveFenceposts(t *testing.T) {
	pct := func(s string) *intstr.IntOrString { v := intstr.FromString(s); return &v }
	num := func(n int32) *intstr.IntOrString { v := intstr.FromInt32(n); return &v }
	tests := []struct {
		name                       string
		surge, unavailable         *intstr.IntOrString
		desired                    int32
		wantSurge, wantUnavailable int32
		wantErr                    bool
	}{
		{name: "0 and 0 make maxUnavailable 1", surge: num(0), unavailable: num(0), desired: 10, wantUnavailable: 1},
		{name: "unset is 0", desired: 10, wantUnavailable: 1},
		{name: "defaults 25% of 10: surge rounds up, unavailable down", surge: pct("25%"), unavailable: pct("25%"), desired: 10, wantSurge: 3, wantUnavailable: 2},
		{name: "25% of 1", surge: pct("25%"), unavailable: pct("25%"), desired: 1, wantSurge: 1, wantUnavailable: 0},
		{name: "0% and 0% of 3", surge: pct("0%"), unavailable: pct("0%"), desired: 3, wantUnavailable: 1},
		{name: "numbers are kept", surge: num(2), unavailable: num(5), desired: 3, wantSurge: 2, wantUnavailable: 5},
		{name: "a bad percentage fails", surge: pct("x%"), desired: 3, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, u, err := resolveFenceposts(tt.surge, tt.unavailable, tt.desired)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v", err)
			}
			if !tt.wantErr && (s != tt.wantSurge || u != tt.wantUnavailable) {
				t.Errorf("got surge %d unavailable %d, want %d %d", s, u, tt.wantSurge, tt.wantUnavailable)
			}
		})
	}
}

func TestMaxUnavailableCapped(t *testing.T) {
	u := intstr.FromInt32(5)
	d := mkDeployment("foo", 3, nil, &u)
	if got := maxUnavailable(d); got != 3 {
		t.Errorf("maxUnavailable = %d, want 3 (spec.replicas)", got)
	}
	recreate(d)
	if got, s := maxUnavailable(d), maxSurge(d); got != 0 || s != 0 {
		t.Errorf("Recreate: maxUnavailable %d maxSurge %d, want 0 0", got, s)
	}
}

func TestComputeHash(t *testing.T) {
	tmpl := &corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "nginx"}}},
	}
	h := ComputeHash(tmpl, nil)
	if h != ComputeHash(tmpl.DeepCopy(), nil) {
		t.Error("the hash is not stable")
	}
	if h == ComputeHash(tmpl, ptr.To[int32](1)) {
		t.Error("collisionCount does not change the hash")
	}
	if ComputeHash(tmpl, ptr.To[int32](1)) == ComputeHash(tmpl, ptr.To[int32](2)) {
		t.Error("collision counts 1 and 2 hash alike (upstream TestComputeHash)")
	}
	other := tmpl.DeepCopy()
	other.Spec.Containers[0].Image = "nginx:2"
	if h == ComputeHash(other, nil) {
		t.Error("another template hashes alike")
	}
	for _, r := range h {
		// SafeEncodeString's alphabet: no vowels, no 0, 1, 3.
		if !(r >= 'b' && r <= 'z' || r >= '2' && r <= '9') || r == 'e' || r == 'i' || r == 'o' || r == 'u' || r == '3' {
			t.Errorf("hash %q has %q, outside SafeEncodeString's alphabet", h, r)
		}
	}
}

func TestReplicaSetName(t *testing.T) {
	long := ""
	for range 300 {
		long += "a"
	}
	if got := replicaSetName("web", "5d4f8b"); got != "web-5d4f8b" {
		t.Errorf("got %q", got)
	}
	if got := replicaSetName(long, "5d4f8b"); len(got) != 253 || got[len(got)-7:] != "-5d4f8b" {
		t.Errorf("long name: %d chars, %q", len(got), got[len(got)-10:])
	}
}

func TestNewRSNewReplicas(t *testing.T) {
	// Upstream TestDeploymentController_reconcileNewReplicaSet's cases.
	tests := []struct {
		name                 string
		replicas, surge      int32
		oldReplicas, newReps int32
		want                 int32
	}{
		{"should not scale up: maxSurge 0", 10, 0, 10, 0, 0},
		{"surge 2 over 10 old", 10, 2, 10, 0, 2},
		{"surge 2 over 5 old", 10, 2, 5, 0, 7},
		{"already surged", 10, 2, 10, 2, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := intstr.FromInt32(tt.surge)
			d := mkDeployment("foo", tt.replicas, &s, nil)
			newRS := mkRS(d, "new", tt.newReps)
			oldRS := mkRS(d, "old", tt.oldReplicas)
			got, err := newRSNewReplicas(d, objsRS(newRS, oldRS), newRS)
			if err != nil || got != tt.want {
				t.Errorf("got %d, %v; want %d", got, err, tt.want)
			}
		})
	}
}
