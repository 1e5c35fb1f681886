// Package defaults applies the v1 defaulting that upstream Kubernetes runs
// when an object is decoded (SetDefaults_* in k8s.io/kubernetes
// pkg/apis/{core,apps,batch,storage,discovery}/v1/defaults.go plus the
// declarative "+default=" tags in k8s.io/api), reproduced on the external
// (v1) types because terminus serves no internal types and never imports
// k8s.io/kubernetes.
//
// Only the defaults a user can observe in a GET are reproduced. Defaults that
// upstream performs in the registry (PrepareForCreate: pod status.phase,
// namespace spec.finalizers, job selectors, service clusterIPs/ipFamilies)
// are the registry's job; the one exception is Service spec.ipFamilyPolicy,
// which upstream's service allocator sets before validation and which this
// package reproduces because every served Service shows it.
package defaults

import (
	"math"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Apply sets upstream's v1 defaults on obj in place. Unknown types are left
// untouched. It is idempotent: applying it twice gives the same object.
func Apply(obj runtime.Object) {
	switch o := obj.(type) {
	case *corev1.Pod:
		setPod(o)
	case *corev1.PodTemplate:
		setPodTemplateSpec(&o.Template)
	case *corev1.ReplicationController:
		setReplicationController(o)
	case *corev1.Service:
		setService(o)
	case *corev1.Namespace:
		setNamespace(o)
	case *corev1.Secret:
		if o.Type == "" {
			o.Type = corev1.SecretTypeOpaque
		}
	case *corev1.ConfigMap:
		// SetDefaults_ConfigMap: not visible on the wire (empty maps are
		// omitted) but kept so that in-process consumers see the same value.
		if o.Data == nil {
			o.Data = map[string]string{}
		}
	case *corev1.PersistentVolume:
		setPersistentVolume(o)
	case *corev1.PersistentVolumeClaim:
		setPersistentVolumeClaim(o)
	case *corev1.Endpoints:
		for i := range o.Subsets {
			for j := range o.Subsets[i].Ports {
				if o.Subsets[i].Ports[j].Protocol == "" {
					o.Subsets[i].Ports[j].Protocol = corev1.ProtocolTCP
				}
			}
		}
	case *corev1.Node:
		// SetDefaults_NodeStatus: allocatable mirrors capacity when unset.
		if o.Status.Allocatable == nil && o.Status.Capacity != nil {
			o.Status.Allocatable = o.Status.Capacity.DeepCopy()
		}
	case *appsv1.Deployment:
		setDeployment(o)
	case *appsv1.ReplicaSet:
		if o.Spec.Replicas == nil {
			o.Spec.Replicas = int32Ptr(1)
		}
		setPodTemplateSpec(&o.Spec.Template)
	case *appsv1.StatefulSet:
		setStatefulSet(o)
	case *appsv1.DaemonSet:
		setDaemonSet(o)
	case *batchv1.Job:
		setJob(o)
	case *batchv1.CronJob:
		setCronJob(o)
	case *storagev1.StorageClass:
		if o.ReclaimPolicy == nil {
			p := corev1.PersistentVolumeReclaimDelete
			o.ReclaimPolicy = &p
		}
		if o.VolumeBindingMode == nil {
			m := storagev1.VolumeBindingImmediate
			o.VolumeBindingMode = &m
		}
	case *discoveryv1.EndpointSlice:
		// discovery/v1 SetDefaults_EndpointPort: name "" and protocol TCP.
		for i := range o.Ports {
			if o.Ports[i].Name == nil {
				o.Ports[i].Name = new(string)
			}
			if o.Ports[i].Protocol == nil {
				p := corev1.ProtocolTCP
				o.Ports[i].Protocol = &p
			}
		}
	case *coordinationv1.Lease:
		// No defaults upstream.
	}
}

// ApplyUpdate is Apply for an update: where upstream's default depends on
// the stored object it is taken from old first. Today that is only Service
// spec.ipFamilyPolicy, which an update that omits it inherits from the old
// object (registry/core/service/storage/alloc.go initIPFamilyFields).
func ApplyUpdate(obj, old runtime.Object) {
	if svc, ok := obj.(*corev1.Service); ok {
		if oldSvc, ok := old.(*corev1.Service); ok && svc.Spec.IPFamilyPolicy == nil && oldSvc.Spec.IPFamilyPolicy != nil &&
			svc.Spec.Type != corev1.ServiceTypeExternalName {
			p := *oldSvc.Spec.IPFamilyPolicy
			svc.Spec.IPFamilyPolicy = &p
		}
	}
	Apply(obj)
}

func int32Ptr(v int32) *int32 { return &v }
func boolPtr(v bool) *bool    { return &v }

func setReplicationController(o *corev1.ReplicationController) {
	// SetDefaults_ReplicationController: selector and labels come from the
	// template when empty; replicas is a declarative +default=1.
	if o.Spec.Template != nil {
		if l := o.Spec.Template.Labels; l != nil {
			if len(o.Spec.Selector) == 0 {
				o.Spec.Selector = copyMap(l)
			}
			if len(o.Labels) == 0 {
				o.Labels = copyMap(l)
			}
		}
		setPodTemplateSpec(o.Spec.Template)
	}
	if o.Spec.Replicas == nil {
		o.Spec.Replicas = int32Ptr(1)
	}
}

func copyMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func setService(o *corev1.Service) {
	s := &o.Spec
	if s.SessionAffinity == "" {
		s.SessionAffinity = corev1.ServiceAffinityNone
	}
	if s.SessionAffinity == corev1.ServiceAffinityNone {
		s.SessionAffinityConfig = nil
	}
	if s.SessionAffinity == corev1.ServiceAffinityClientIP {
		if s.SessionAffinityConfig == nil || s.SessionAffinityConfig.ClientIP == nil || s.SessionAffinityConfig.ClientIP.TimeoutSeconds == nil {
			t := corev1.DefaultClientIPServiceAffinitySeconds
			s.SessionAffinityConfig = &corev1.SessionAffinityConfig{ClientIP: &corev1.ClientIPConfig{TimeoutSeconds: &t}}
		}
	}
	if s.Type == "" {
		s.Type = corev1.ServiceTypeClusterIP
	}
	for i := range s.Ports {
		p := &s.Ports[i]
		if p.Protocol == "" {
			p.Protocol = corev1.ProtocolTCP
		}
		if p.TargetPort == intstr.FromInt32(0) || p.TargetPort == intstr.FromString("") {
			p.TargetPort = intstr.FromInt32(p.Port)
		}
	}
	// pkg/api/v1/service ExternallyAccessible.
	external := s.Type == corev1.ServiceTypeLoadBalancer || s.Type == corev1.ServiceTypeNodePort ||
		(s.Type == corev1.ServiceTypeClusterIP && len(s.ExternalIPs) > 0)
	if external && s.ExternalTrafficPolicy == "" {
		s.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyCluster
	}
	if s.InternalTrafficPolicy == nil && (s.Type == corev1.ServiceTypeNodePort || s.Type == corev1.ServiceTypeLoadBalancer || s.Type == corev1.ServiceTypeClusterIP) {
		p := corev1.ServiceInternalTrafficPolicyCluster
		s.InternalTrafficPolicy = &p
	}
	if s.Type == corev1.ServiceTypeLoadBalancer {
		if s.AllocateLoadBalancerNodePorts == nil {
			s.AllocateLoadBalancerNodePorts = boolPtr(true)
		}
		for i, ing := range o.Status.LoadBalancer.Ingress {
			if ing.IP != "" && ing.IPMode == nil {
				m := corev1.LoadBalancerIPModeVIP
				o.Status.LoadBalancer.Ingress[i].IPMode = &m
			}
		}
	}
	// Registry-side default (alloc.go initIPFamilyFields, create path):
	// headless selector-less services require dual-stack, everything else but
	// ExternalName is single-stack.
	if s.IPFamilyPolicy == nil && s.Type != corev1.ServiceTypeExternalName {
		p := corev1.IPFamilyPolicySingleStack
		if s.ClusterIP == corev1.ClusterIPNone && len(s.Selector) == 0 {
			p = corev1.IPFamilyPolicyRequireDualStack
		}
		s.IPFamilyPolicy = &p
	}
}

func setNamespace(o *corev1.Namespace) {
	// SetDefaults_Namespace: the immutable name label (not for generateName
	// objects whose name is not yet known).
	if o.Name != "" {
		if o.Labels == nil {
			o.Labels = map[string]string{}
		}
		o.Labels[corev1.LabelMetadataName] = o.Name
	}
	if o.Status.Phase == "" {
		o.Status.Phase = corev1.NamespaceActive
	}
}

func setPersistentVolume(o *corev1.PersistentVolume) {
	if o.Status.Phase == "" {
		o.Status.Phase = corev1.VolumePending
	}
	if o.Spec.PersistentVolumeReclaimPolicy == "" {
		o.Spec.PersistentVolumeReclaimPolicy = corev1.PersistentVolumeReclaimRetain
	}
	if o.Spec.VolumeMode == nil {
		m := corev1.PersistentVolumeFilesystem
		o.Spec.VolumeMode = &m
	}
	if hp := o.Spec.HostPath; hp != nil && hp.Type == nil {
		t := corev1.HostPathUnset
		hp.Type = &t
	}
	roundResourceList(o.Spec.Capacity)
}

func setPersistentVolumeClaim(o *corev1.PersistentVolumeClaim) {
	if o.Status.Phase == "" {
		o.Status.Phase = corev1.ClaimPending
	}
	setPVCSpec(&o.Spec)
}

func setPVCSpec(s *corev1.PersistentVolumeClaimSpec) {
	if s.VolumeMode == nil {
		m := corev1.PersistentVolumeFilesystem
		s.VolumeMode = &m
	}
	roundResourceList(s.Resources.Limits)
	roundResourceList(s.Resources.Requests)
}

func setDeployment(o *appsv1.Deployment) {
	if o.Spec.Replicas == nil {
		o.Spec.Replicas = int32Ptr(1)
	}
	st := &o.Spec.Strategy
	if st.Type == "" {
		st.Type = appsv1.RollingUpdateDeploymentStrategyType
	}
	if st.Type == appsv1.RollingUpdateDeploymentStrategyType {
		if st.RollingUpdate == nil {
			st.RollingUpdate = &appsv1.RollingUpdateDeployment{}
		}
		if st.RollingUpdate.MaxUnavailable == nil {
			v := intstr.FromString("25%")
			st.RollingUpdate.MaxUnavailable = &v
		}
		if st.RollingUpdate.MaxSurge == nil {
			v := intstr.FromString("25%")
			st.RollingUpdate.MaxSurge = &v
		}
	}
	if o.Spec.RevisionHistoryLimit == nil {
		o.Spec.RevisionHistoryLimit = int32Ptr(10)
	}
	if o.Spec.ProgressDeadlineSeconds == nil {
		o.Spec.ProgressDeadlineSeconds = int32Ptr(600)
	}
	setPodTemplateSpec(&o.Spec.Template)
}

func setDaemonSet(o *appsv1.DaemonSet) {
	us := &o.Spec.UpdateStrategy
	if us.Type == "" {
		us.Type = appsv1.RollingUpdateDaemonSetStrategyType
	}
	if us.Type == appsv1.RollingUpdateDaemonSetStrategyType {
		if us.RollingUpdate == nil {
			us.RollingUpdate = &appsv1.RollingUpdateDaemonSet{}
		}
		if us.RollingUpdate.MaxUnavailable == nil {
			v := intstr.FromInt32(1)
			us.RollingUpdate.MaxUnavailable = &v
		}
		if us.RollingUpdate.MaxSurge == nil {
			v := intstr.FromInt32(0)
			us.RollingUpdate.MaxSurge = &v
		}
	}
	if o.Spec.RevisionHistoryLimit == nil {
		o.Spec.RevisionHistoryLimit = int32Ptr(10)
	}
	setPodTemplateSpec(&o.Spec.Template)
}

func setStatefulSet(o *appsv1.StatefulSet) {
	s := &o.Spec
	if s.PodManagementPolicy == "" {
		s.PodManagementPolicy = appsv1.OrderedReadyPodManagement
	}
	if s.UpdateStrategy.Type == "" {
		s.UpdateStrategy.Type = appsv1.RollingUpdateStatefulSetStrategyType
		if s.UpdateStrategy.RollingUpdate == nil {
			s.UpdateStrategy.RollingUpdate = &appsv1.RollingUpdateStatefulSetStrategy{}
		}
	}
	if s.UpdateStrategy.Type == appsv1.RollingUpdateStatefulSetStrategyType && s.UpdateStrategy.RollingUpdate != nil &&
		s.UpdateStrategy.RollingUpdate.Partition == nil {
		s.UpdateStrategy.RollingUpdate.Partition = int32Ptr(0)
	}
	// StatefulSetAutoDeletePVC is GA, so the gate check upstream is always on.
	if s.PersistentVolumeClaimRetentionPolicy == nil {
		s.PersistentVolumeClaimRetentionPolicy = &appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy{}
	}
	if s.PersistentVolumeClaimRetentionPolicy.WhenDeleted == "" {
		s.PersistentVolumeClaimRetentionPolicy.WhenDeleted = appsv1.RetainPersistentVolumeClaimRetentionPolicyType
	}
	if s.PersistentVolumeClaimRetentionPolicy.WhenScaled == "" {
		s.PersistentVolumeClaimRetentionPolicy.WhenScaled = appsv1.RetainPersistentVolumeClaimRetentionPolicyType
	}
	if s.Replicas == nil {
		s.Replicas = int32Ptr(1)
	}
	if s.RevisionHistoryLimit == nil {
		s.RevisionHistoryLimit = int32Ptr(10)
	}
	// Generated defaulters reach the claim templates: they get the PVC
	// defaults, including status.phase Pending (visible in kubectl output).
	for i := range s.VolumeClaimTemplates {
		setPersistentVolumeClaim(&s.VolumeClaimTemplates[i])
	}
	setPodTemplateSpec(&s.Template)
}

func setJob(o *batchv1.Job) {
	s := &o.Spec
	if s.Completions == nil && s.Parallelism == nil {
		s.Completions = int32Ptr(1)
		s.Parallelism = int32Ptr(1)
	}
	if s.Parallelism == nil {
		s.Parallelism = int32Ptr(1)
	}
	if s.BackoffLimit == nil {
		if s.BackoffLimitPerIndex != nil {
			s.BackoffLimit = int32Ptr(math.MaxInt32)
		} else {
			s.BackoffLimit = int32Ptr(6)
		}
	}
	if l := s.Template.Labels; l != nil && len(o.Labels) == 0 {
		o.Labels = copyMap(l)
	}
	if s.CompletionMode == nil {
		m := batchv1.NonIndexedCompletion
		s.CompletionMode = &m
	}
	if s.Suspend == nil {
		s.Suspend = boolPtr(false)
	}
	// JobPodReplacementPolicy is on by default.
	if s.PodReplacementPolicy == nil {
		p := batchv1.TerminatingOrFailed
		if s.PodFailurePolicy != nil {
			p = batchv1.Failed
		}
		s.PodReplacementPolicy = &p
	}
	if s.PodFailurePolicy != nil {
		for i := range s.PodFailurePolicy.Rules {
			for j := range s.PodFailurePolicy.Rules[i].OnPodConditions {
				if s.PodFailurePolicy.Rules[i].OnPodConditions[j].Status == "" {
					s.PodFailurePolicy.Rules[i].OnPodConditions[j].Status = corev1.ConditionTrue
				}
			}
		}
	}
	// ManualSelector is left nil: the registry's PrepareForCreate generates
	// the selector when it is not true.
	setPodTemplateSpec(&s.Template)
}

func setCronJob(o *batchv1.CronJob) {
	s := &o.Spec
	if s.ConcurrencyPolicy == "" {
		s.ConcurrencyPolicy = batchv1.AllowConcurrent
	}
	if s.Suspend == nil {
		s.Suspend = boolPtr(false)
	}
	if s.SuccessfulJobsHistoryLimit == nil {
		s.SuccessfulJobsHistoryLimit = int32Ptr(3)
	}
	if s.FailedJobsHistoryLimit == nil {
		s.FailedJobsHistoryLimit = int32Ptr(1)
	}
	// SetDefaults_Job takes a *Job, so the generated defaulter does not run
	// it on jobTemplate.spec; only the pod template below it is defaulted.
	setPodTemplateSpec(&s.JobTemplate.Spec.Template)
}
