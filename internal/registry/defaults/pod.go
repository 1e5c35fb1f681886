package defaults

import (
	"regexp"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// setPod is SetDefaults_Pod plus the PodSpec defaults. The Pod-only part
// (requests from limits, enableServiceLinks, host-network ports) is not
// applied to templates: upstream keeps those out of SetDefaults_PodSpec so
// that they only materialise on real pods (kubernetes#69445).
func setPod(o *corev1.Pod) {
	for _, cs := range [][]corev1.Container{o.Spec.Containers, o.Spec.InitContainers} {
		for i := range cs {
			r := &cs[i].Resources
			if r.Limits == nil {
				continue
			}
			if r.Requests == nil {
				r.Requests = corev1.ResourceList{}
			}
			for k, v := range r.Limits {
				if _, ok := r.Requests[k]; !ok {
					r.Requests[k] = v.DeepCopy()
				}
			}
		}
	}
	if o.Spec.EnableServiceLinks == nil {
		o.Spec.EnableServiceLinks = boolPtr(corev1.DefaultEnableServiceLinks)
	}
	if o.Spec.HostNetwork {
		for _, cs := range [][]corev1.Container{o.Spec.Containers, o.Spec.InitContainers} {
			for i := range cs {
				for j := range cs[i].Ports {
					if cs[i].Ports[j].HostPort == 0 {
						cs[i].Ports[j].HostPort = cs[i].Ports[j].ContainerPort
					}
				}
			}
		}
	}
	setPodSpec(&o.Spec)
}

func setPodTemplateSpec(t *corev1.PodTemplateSpec) { setPodSpec(&t.Spec) }

// setPodSpec is SetDefaults_PodSpec and the generated per-field defaults
// reachable from a PodSpec (containers, probes, volumes, env field refs).
func setPodSpec(s *corev1.PodSpec) {
	if s.DNSPolicy == "" {
		s.DNSPolicy = corev1.DNSClusterFirst
	}
	if s.RestartPolicy == "" {
		s.RestartPolicy = corev1.RestartPolicyAlways
	}
	if s.SecurityContext == nil {
		s.SecurityContext = &corev1.PodSecurityContext{}
	}
	if s.TerminationGracePeriodSeconds == nil {
		p := int64(corev1.DefaultTerminationGracePeriodSeconds)
		s.TerminationGracePeriodSeconds = &p
	}
	if s.SchedulerName == "" {
		s.SchedulerName = corev1.DefaultSchedulerName
	}
	for i := range s.Volumes {
		setVolume(&s.Volumes[i])
	}
	for i := range s.InitContainers {
		setContainer(&s.InitContainers[i])
	}
	for i := range s.Containers {
		setContainer(&s.Containers[i])
	}
	for i := range s.EphemeralContainers {
		setContainer((*corev1.Container)(&s.EphemeralContainers[i].EphemeralContainerCommon))
	}
	roundResourceList(s.Overhead)
	if s.Resources != nil {
		roundResourceList(s.Resources.Limits)
		roundResourceList(s.Resources.Requests)
	}
}

func setContainer(c *corev1.Container) {
	if c.ImagePullPolicy == "" {
		// PullAlways for ":latest" (explicit or implied), IfNotPresent
		// otherwise, including for names that do not parse.
		if imageTag(c.Image) == "latest" {
			c.ImagePullPolicy = corev1.PullAlways
		} else {
			c.ImagePullPolicy = corev1.PullIfNotPresent
		}
	}
	if c.TerminationMessagePath == "" {
		c.TerminationMessagePath = corev1.TerminationMessagePathDefault
	}
	if c.TerminationMessagePolicy == "" {
		c.TerminationMessagePolicy = corev1.TerminationMessageReadFile
	}
	for i := range c.Ports {
		if c.Ports[i].Protocol == "" { // +default="TCP"
			c.Ports[i].Protocol = corev1.ProtocolTCP
		}
	}
	for i := range c.Env {
		if vf := c.Env[i].ValueFrom; vf != nil && vf.FieldRef != nil && vf.FieldRef.APIVersion == "" {
			vf.FieldRef.APIVersion = "v1"
		}
	}
	roundResourceList(c.Resources.Limits)
	roundResourceList(c.Resources.Requests)
	for _, p := range []*corev1.Probe{c.LivenessProbe, c.ReadinessProbe, c.StartupProbe} {
		if p == nil {
			continue
		}
		if p.TimeoutSeconds == 0 {
			p.TimeoutSeconds = 1
		}
		if p.PeriodSeconds == 0 {
			p.PeriodSeconds = 10
		}
		if p.SuccessThreshold == 0 {
			p.SuccessThreshold = 1
		}
		if p.FailureThreshold == 0 {
			p.FailureThreshold = 3
		}
		setHTTPGet(p.HTTPGet)
		if p.GRPC != nil && p.GRPC.Service == nil { // +default=""
			p.GRPC.Service = new(string)
		}
	}
	if lc := c.Lifecycle; lc != nil {
		if lc.PostStart != nil {
			setHTTPGet(lc.PostStart.HTTPGet)
		}
		if lc.PreStop != nil {
			setHTTPGet(lc.PreStop.HTTPGet)
		}
	}
}

func setHTTPGet(h *corev1.HTTPGetAction) {
	if h == nil {
		return
	}
	if h.Path == "" {
		h.Path = "/"
	}
	if h.Scheme == "" {
		h.Scheme = corev1.URISchemeHTTP
	}
}

func setVolume(v *corev1.Volume) {
	vs := &v.VolumeSource
	if *vs == (corev1.VolumeSource{}) {
		// SetDefaults_Volume: a volume with no source is an emptyDir.
		vs.EmptyDir = &corev1.EmptyDirVolumeSource{}
	}
	mode := func(m **int32, def int32) {
		if *m == nil {
			d := def
			*m = &d
		}
	}
	if vs.Secret != nil {
		mode(&vs.Secret.DefaultMode, corev1.SecretVolumeSourceDefaultMode)
	}
	if vs.ConfigMap != nil {
		mode(&vs.ConfigMap.DefaultMode, corev1.ConfigMapVolumeSourceDefaultMode)
	}
	if vs.DownwardAPI != nil {
		mode(&vs.DownwardAPI.DefaultMode, corev1.DownwardAPIVolumeSourceDefaultMode)
		setDownwardItems(vs.DownwardAPI.Items)
	}
	if vs.Projected != nil {
		mode(&vs.Projected.DefaultMode, corev1.ProjectedVolumeSourceDefaultMode)
		for i := range vs.Projected.Sources {
			src := &vs.Projected.Sources[i]
			if src.DownwardAPI != nil {
				setDownwardItems(src.DownwardAPI.Items)
			}
			if src.ServiceAccountToken != nil && src.ServiceAccountToken.ExpirationSeconds == nil {
				h := int64(3600)
				src.ServiceAccountToken.ExpirationSeconds = &h
			}
		}
	}
	if vs.HostPath != nil && vs.HostPath.Type == nil {
		t := corev1.HostPathUnset
		vs.HostPath.Type = &t
	}
	if vs.Ephemeral != nil && vs.Ephemeral.VolumeClaimTemplate != nil {
		setPVCSpec(&vs.Ephemeral.VolumeClaimTemplate.Spec)
	}
	if vs.Image != nil && vs.Image.PullPolicy == "" {
		if imageTag(vs.Image.Reference) == "latest" {
			vs.Image.PullPolicy = corev1.PullAlways
		} else {
			vs.Image.PullPolicy = corev1.PullIfNotPresent
		}
	}
}

func setDownwardItems(items []corev1.DownwardAPIVolumeFile) {
	for i := range items {
		if items[i].FieldRef != nil && items[i].FieldRef.APIVersion == "" {
			items[i].FieldRef.APIVersion = "v1"
		}
	}
}

// roundResourceList is SetDefaults_ResourceList: quantities are rounded up
// to milli precision (kubernetes#18538).
func roundResourceList(l corev1.ResourceList) {
	for k, v := range l {
		v.RoundUp(-3)
		l[k] = v
	}
}

// referenceRE is the docker reference grammar (distribution/reference
// ReferenceRegexp, IPv6 hosts omitted) that upstream's
// pkg/util/parsers.ParseImageName parses through.
var referenceRE = regexp.MustCompile(`^` +
	`((?:(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*(?::[0-9]+)?/)?` +
	`[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*)*)` +
	`(?::([\w][\w.-]{0,127}))?` +
	`(?:@([A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}))?$`)

// imageTag returns the tag upstream's ParseImageName would report: the
// explicit tag, "latest" when neither tag nor digest is given, and "" for a
// digest-only or unparsable reference.
func imageTag(image string) string {
	m := referenceRE.FindStringSubmatch(image)
	if m == nil || len(m[1]) > 255 {
		return ""
	}
	if m[2] == "" && m[3] == "" {
		return "latest"
	}
	return m[2]
}

// PodQOSClass computes status.qosClass the way upstream's
// pkg/apis/core/helper/qos.ComputePodQOS does (cpu and memory only; pod-level
// resources win when set). Call it after Apply so requests are defaulted.
func PodQOSClass(pod *corev1.Pod) corev1.PodQOSClass {
	supported := func(n corev1.ResourceName) bool { return n == corev1.ResourceCPU || n == corev1.ResourceMemory }
	requests, limits := corev1.ResourceList{}, corev1.ResourceList{}
	zero := resource.Quantity{}
	guaranteed := true

	if r := pod.Spec.Resources; r != nil && (hasSupported(r.Requests, supported) || hasSupported(r.Limits, supported)) {
		for n, q := range r.Requests {
			if supported(n) && q.Cmp(zero) == 1 {
				requests[n] = q.DeepCopy()
			}
		}
		found := 0
		for n, q := range r.Limits {
			if supported(n) && q.Cmp(zero) == 1 {
				limits[n] = q.DeepCopy()
				found++
			}
		}
		if found < 2 {
			guaranteed = false
		}
	} else {
		all := make([]corev1.Container, 0, len(pod.Spec.InitContainers)+len(pod.Spec.Containers))
		all = append(all, pod.Spec.InitContainers...)
		all = append(all, pod.Spec.Containers...)
		for _, c := range all {
			for n, q := range c.Resources.Requests {
				if supported(n) && q.Cmp(zero) == 1 {
					add(requests, n, q)
				}
			}
			found := map[corev1.ResourceName]bool{}
			for n, q := range c.Resources.Limits {
				if supported(n) && q.Cmp(zero) == 1 {
					found[n] = true
					add(limits, n, q)
				}
			}
			if !found[corev1.ResourceCPU] || !found[corev1.ResourceMemory] {
				guaranteed = false
			}
		}
	}
	if len(requests) == 0 && len(limits) == 0 {
		return corev1.PodQOSBestEffort
	}
	if guaranteed {
		for n, req := range requests {
			if lim, ok := limits[n]; !ok || lim.Cmp(req) != 0 {
				guaranteed = false
				break
			}
		}
	}
	if guaranteed && len(requests) == len(limits) {
		return corev1.PodQOSGuaranteed
	}
	return corev1.PodQOSBurstable
}

func hasSupported(l corev1.ResourceList, supported func(corev1.ResourceName) bool) bool {
	for n := range l {
		if supported(n) {
			return true
		}
	}
	return false
}

func add(l corev1.ResourceList, n corev1.ResourceName, q resource.Quantity) {
	if cur, ok := l[n]; ok {
		cur.Add(q)
		l[n] = cur
		return
	}
	l[n] = q.DeepCopy()
}
