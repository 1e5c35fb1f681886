package validation

// Core (non-pod, non-workload) and other-group validation after
// k8s.io/kubernetes pkg/apis/core/validation (validation.go, events.go),
// pkg/apis/storage/validation, pkg/apis/coordination/validation and
// pkg/apis/discovery/validation.
//
// Left out: Secret type-specific payload checks other than the required
// keys, Service dual-stack upgrade/downgrade rules, load-balancer status,
// node taint/podCIDR details, PV volume-source details and node affinity,
// PVC data sources and resize rules, EndpointSlice per-endpoint topology,
// StorageClass allowed topologies, Event series.

import (
	"encoding/json"
	"fmt"
	"net"
	"reflect"
	"strings"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	eventsv1 "k8s.io/api/events/v1"
	storagev1 "k8s.io/api/storage/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	unversionedvalidation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// maxSecretSize is core.MaxSecretSize (1 MiB), shared by ConfigMaps.
const maxSecretSize = 1 * 1024 * 1024

const immutableWhenSet = "field is immutable when `immutable` is set"

func validateConfigMap(cm *corev1.ConfigMap, namespaced bool) field.ErrorList {
	errs := objectMeta(&cm.ObjectMeta, namespaced, apimachineryvalidation.NameIsDNSSubdomain)
	total := 0
	for k, v := range cm.Data {
		for _, msg := range validation.IsConfigMapKey(k) {
			errs = append(errs, field.Invalid(field.NewPath("data").Key(k), k, msg))
		}
		if _, dup := cm.BinaryData[k]; dup {
			errs = append(errs, field.Invalid(field.NewPath("data").Key(k), k, "duplicate of key present in binaryData"))
		}
		total += len(v)
	}
	for k, v := range cm.BinaryData {
		for _, msg := range validation.IsConfigMapKey(k) {
			errs = append(errs, field.Invalid(field.NewPath("binaryData").Key(k), k, msg))
		}
		total += len(v)
	}
	if total > maxSecretSize {
		// Upstream reports the whole object (empty path).
		errs = append(errs, field.TooLong(field.NewPath(""), "", maxSecretSize))
	}
	return errs
}

func configMapUpdate(n, o *corev1.ConfigMap) field.ErrorList {
	var errs field.ErrorList
	if o.Immutable != nil && *o.Immutable {
		if n.Immutable == nil || !*n.Immutable {
			errs = append(errs, field.Forbidden(field.NewPath("immutable"), immutableWhenSet))
		}
		if !reflect.DeepEqual(n.Data, o.Data) {
			errs = append(errs, field.Forbidden(field.NewPath("data"), immutableWhenSet))
		}
		if !reflect.DeepEqual(n.BinaryData, o.BinaryData) {
			errs = append(errs, field.Forbidden(field.NewPath("binaryData"), immutableWhenSet))
		}
	}
	return errs
}

// validateSecret is ValidateSecret. stringData must already be merged into
// data (upstream does it in conversion).
func validateSecret(s *corev1.Secret, namespaced bool) field.ErrorList {
	errs := objectMeta(&s.ObjectMeta, namespaced, apimachineryvalidation.NameIsDNSSubdomain)
	dp := field.NewPath("data")
	total := 0
	for k, v := range s.Data {
		for _, msg := range validation.IsConfigMapKey(k) {
			errs = append(errs, field.Invalid(dp.Key(k), k, msg))
		}
		total += len(v)
	}
	if total > maxSecretSize {
		errs = append(errs, field.TooLong(dp, "", maxSecretSize))
	}
	jsonKey := func(key string) {
		b, ok := s.Data[key]
		if !ok {
			errs = append(errs, field.Required(dp.Key(key), ""))
			return
		}
		if err := json.Unmarshal(b, &map[string]interface{}{}); err != nil {
			errs = append(errs, field.Invalid(dp.Key(key), "<secret contents redacted>", err.Error()))
		}
	}
	switch s.Type {
	case corev1.SecretTypeServiceAccountToken:
		if s.Annotations[corev1.ServiceAccountNameKey] == "" {
			errs = append(errs, field.Required(metaPath.Child("annotations").Key(corev1.ServiceAccountNameKey), ""))
		}
	case corev1.SecretTypeDockercfg:
		jsonKey(corev1.DockerConfigKey)
	case corev1.SecretTypeDockerConfigJson:
		jsonKey(corev1.DockerConfigJsonKey)
	case corev1.SecretTypeBasicAuth:
		_, u := s.Data[corev1.BasicAuthUsernameKey]
		_, pw := s.Data[corev1.BasicAuthPasswordKey]
		if !u && !pw {
			errs = append(errs, field.Required(dp.Key(corev1.BasicAuthUsernameKey), ""), field.Required(dp.Key(corev1.BasicAuthPasswordKey), ""))
		}
	case corev1.SecretTypeSSHAuth:
		if len(s.Data[corev1.SSHAuthPrivateKey]) == 0 {
			errs = append(errs, field.Required(dp.Key(corev1.SSHAuthPrivateKey), ""))
		}
	case corev1.SecretTypeTLS:
		if _, ok := s.Data[corev1.TLSCertKey]; !ok {
			errs = append(errs, field.Required(dp.Key(corev1.TLSCertKey), ""))
		}
		if _, ok := s.Data[corev1.TLSPrivateKeyKey]; !ok {
			errs = append(errs, field.Required(dp.Key(corev1.TLSPrivateKeyKey), ""))
		}
	}
	return errs
}

func secretUpdate(n, o *corev1.Secret) field.ErrorList {
	errs := immutable(n.Type, o.Type, field.NewPath("type"))
	if o.Immutable != nil && *o.Immutable {
		if n.Immutable == nil || !*n.Immutable {
			errs = append(errs, field.Forbidden(field.NewPath("immutable"), immutableWhenSet))
		}
		if !reflect.DeepEqual(n.Data, o.Data) {
			errs = append(errs, field.Forbidden(field.NewPath("data"), immutableWhenSet))
		}
	}
	return errs
}

func isHeadless(s *corev1.Service) bool {
	return len(s.Spec.ClusterIPs) == 1 && s.Spec.ClusterIPs[0] == corev1.ClusterIPNone
}

// validateService is ValidateService. The registry is expected to have
// synchronised clusterIP and clusterIPs, as upstream's strategy does.
func validateService(svc *corev1.Service, namespaced bool) field.ErrorList {
	sp := field.NewPath("spec")
	s := &svc.Spec
	errs := objectMeta(&svc.ObjectMeta, namespaced, apimachineryvalidation.NameIsDNS1035Label)
	if len(s.Ports) == 0 && !isHeadless(svc) && s.Type != corev1.ServiceTypeExternalName {
		errs = append(errs, field.Required(sp.Child("ports"), ""))
	}
	switch s.Type {
	case corev1.ServiceTypeLoadBalancer, corev1.ServiceTypeNodePort:
		if isHeadless(svc) {
			errs = append(errs, field.Invalid(sp.Child("clusterIPs").Index(0), s.ClusterIPs[0], fmt.Sprintf("may not be set to 'None' for %s services", s.Type)))
		}
	case corev1.ServiceTypeExternalName:
		if len(s.ClusterIPs) > 0 {
			errs = append(errs, field.Forbidden(sp.Child("clusterIPs"), "may not be set for ExternalName services"))
		}
		if len(s.IPFamilies) > 0 {
			errs = append(errs, field.Forbidden(sp.Child("ipFamilies"), "may not be set for ExternalName services"))
		}
		if s.IPFamilyPolicy != nil {
			errs = append(errs, field.Forbidden(sp.Child("ipFamilyPolicy"), "may not be set for ExternalName services"))
		}
		if cname := strings.TrimSuffix(s.ExternalName, "."); cname != "" {
			errs = append(errs, dnsSubdomain(cname, sp.Child("externalName"))...)
		} else {
			errs = append(errs, field.Required(sp.Child("externalName"), ""))
		}
	}
	names := sets.New[string]()
	for i := range s.Ports {
		port := &s.Ports[i]
		pp := sp.Child("ports").Index(i)
		if len(s.Ports) > 1 && port.Name == "" {
			errs = append(errs, field.Required(pp.Child("name"), ""))
		} else if port.Name != "" {
			errs = append(errs, dnsLabel(port.Name, pp.Child("name"))...)
			if names.Has(port.Name) {
				errs = append(errs, field.Duplicate(pp.Child("name"), port.Name))
			} else {
				names.Insert(port.Name)
			}
		}
		for _, msg := range validation.IsValidPortNum(int(port.Port)) {
			errs = append(errs, field.Invalid(pp.Child("port"), port.Port, msg))
		}
		errs = append(errs, validateProtocol(port.Protocol, pp.Child("protocol"))...)
		errs = append(errs, portNumOrName(port.TargetPort, pp.Child("targetPort"))...)
		if port.AppProtocol != nil {
			errs = append(errs, qualifiedName(*port.AppProtocol, pp.Child("appProtocol"))...)
		}
	}
	if s.Selector != nil {
		errs = append(errs, unversionedvalidation.ValidateLabels(s.Selector, sp.Child("selector"))...)
	}
	switch s.SessionAffinity {
	case "":
		errs = append(errs, field.Required(sp.Child("sessionAffinity"), ""))
	case corev1.ServiceAffinityClientIP, corev1.ServiceAffinityNone:
	default:
		errs = append(errs, field.NotSupported(sp.Child("sessionAffinity"), s.SessionAffinity, []corev1.ServiceAffinity{corev1.ServiceAffinityClientIP, corev1.ServiceAffinityNone}))
	}
	if s.SessionAffinity == corev1.ServiceAffinityNone && s.SessionAffinityConfig != nil {
		errs = append(errs, field.Forbidden(sp.Child("sessionAffinityConfig"), "must not be set when session affinity is None"))
	}
	if s.Type != corev1.ServiceTypeExternalName {
		if s.ClusterIP != "" {
			if len(s.ClusterIPs) == 0 {
				errs = append(errs, field.Required(sp.Child("clusterIPs"), ""))
			} else if s.ClusterIPs[0] != s.ClusterIP {
				errs = append(errs, field.Invalid(sp.Child("clusterIPs"), s.ClusterIPs, "first value must match `clusterIP`"))
			}
		} else if len(s.ClusterIPs) != 0 {
			errs = append(errs, field.Invalid(sp.Child("clusterIPs"), s.ClusterIPs, "must be empty when `clusterIP` is not specified"))
		}
		for i, ip := range s.ClusterIPs {
			if i == 0 && ip == corev1.ClusterIPNone {
				continue
			}
			errs = append(errs, validation.IsValidIP(sp.Child("clusterIPs").Index(i), ip)...)
		}
		if p := s.IPFamilyPolicy; p != nil && *p != corev1.IPFamilyPolicySingleStack && *p != corev1.IPFamilyPolicyPreferDualStack && *p != corev1.IPFamilyPolicyRequireDualStack {
			errs = append(errs, field.NotSupported(sp.Child("ipFamilyPolicy"), p, []corev1.IPFamilyPolicy{corev1.IPFamilyPolicyPreferDualStack, corev1.IPFamilyPolicyRequireDualStack, corev1.IPFamilyPolicySingleStack}))
		}
	}
	for i, ip := range s.ExternalIPs {
		errs = append(errs, validation.IsValidIP(sp.Child("externalIPs").Index(i), ip)...)
	}
	switch s.Type {
	case "":
		errs = append(errs, field.Required(sp.Child("type"), ""))
	case corev1.ServiceTypeClusterIP, corev1.ServiceTypeNodePort, corev1.ServiceTypeLoadBalancer, corev1.ServiceTypeExternalName:
	default:
		errs = append(errs, field.NotSupported(sp.Child("type"), s.Type, []corev1.ServiceType{corev1.ServiceTypeClusterIP, corev1.ServiceTypeExternalName, corev1.ServiceTypeLoadBalancer, corev1.ServiceTypeNodePort}))
	}
	if s.Type == corev1.ServiceTypeClusterIP {
		for i := range s.Ports {
			if s.Ports[i].NodePort != 0 {
				errs = append(errs, field.Forbidden(sp.Child("ports").Index(i).Child("nodePort"), "may not be used when `type` is 'ClusterIP'"))
			}
		}
	}
	seen := map[corev1.ServicePort]bool{}
	for i, port := range s.Ports {
		key := corev1.ServicePort{Protocol: port.Protocol, Port: port.Port}
		if seen[key] {
			errs = append(errs, field.Duplicate(sp.Child("ports").Index(i), key))
		}
		seen[key] = true
	}
	if s.Type == corev1.ServiceTypeLoadBalancer && s.AllocateLoadBalancerNodePorts == nil {
		// Upstream's path really lacks the "spec." prefix.
		errs = append(errs, field.Required(field.NewPath("allocateLoadBalancerNodePorts"), ""))
	}
	if s.InternalTrafficPolicy == nil && (s.Type == corev1.ServiceTypeNodePort || s.Type == corev1.ServiceTypeLoadBalancer || s.Type == corev1.ServiceTypeClusterIP) {
		errs = append(errs, field.Required(sp.Child("internalTrafficPolicy"), ""))
	}
	return errs
}

func serviceUpdate(n, o *corev1.Service) field.ErrorList {
	// validateUpgradeDowngradeClusterIPs, same-length case: the primary
	// clusterIP (and any secondary) may not change once set.
	if n.Spec.Type == corev1.ServiceTypeExternalName || o.Spec.Type == corev1.ServiceTypeExternalName || (isHeadless(n) && isHeadless(o)) {
		return nil
	}
	var errs field.ErrorList
	p := field.NewPath("spec", "clusterIPs")
	switch {
	case len(o.Spec.ClusterIPs) == len(n.Spec.ClusterIPs):
		for i, ip := range o.Spec.ClusterIPs {
			if ip != n.Spec.ClusterIPs[i] {
				errs = append(errs, field.Invalid(p.Index(i), n.Spec.ClusterIPs, "may not change once set"))
			}
		}
	case len(o.Spec.ClusterIPs) > len(n.Spec.ClusterIPs):
		if len(n.Spec.ClusterIPs) == 0 {
			errs = append(errs, field.Invalid(p.Index(0), n.Spec.ClusterIPs, "primary clusterIP can not be unset"))
		} else if n.Spec.ClusterIPs[0] != o.Spec.ClusterIPs[0] {
			errs = append(errs, field.Invalid(p.Index(0), n.Spec.ClusterIPs, "may not change once set"))
		}
	default:
		if len(o.Spec.ClusterIPs) > 0 && n.Spec.ClusterIPs[0] != o.Spec.ClusterIPs[0] {
			errs = append(errs, field.Invalid(p.Index(0), n.Spec.ClusterIPs, "may not change once set"))
		}
	}
	return errs
}

func validateEndpoints(ep *corev1.Endpoints, namespaced bool) field.ErrorList {
	errs := objectMeta(&ep.ObjectMeta, namespaced, apimachineryvalidation.NameIsDNSSubdomain)
	for i := range ep.Subsets {
		ss := &ep.Subsets[i]
		ip := field.NewPath("subsets").Index(i)
		if len(ss.Addresses) == 0 && len(ss.NotReadyAddresses) == 0 {
			errs = append(errs, field.Required(ip, "must specify `addresses` or `notReadyAddresses`"))
		}
		for _, list := range []struct {
			name  string
			addrs []corev1.EndpointAddress
		}{{"addresses", ss.Addresses}, {"notReadyAddresses", ss.NotReadyAddresses}} {
			for j, a := range list.addrs {
				ap := ip.Child(list.name).Index(j)
				errs = append(errs, validation.IsValidIP(ap.Child("ip"), a.IP)...)
				if a.Hostname != "" {
					errs = append(errs, dnsLabel(a.Hostname, ap.Child("hostname"))...)
				}
			}
		}
		for j, port := range ss.Ports {
			pp := ip.Child("ports").Index(j)
			if len(ss.Ports) > 1 && port.Name == "" {
				errs = append(errs, field.Required(pp.Child("name"), ""))
			} else if port.Name != "" {
				errs = append(errs, dnsLabel(port.Name, pp.Child("name"))...)
			}
			for _, msg := range validation.IsValidPortNum(int(port.Port)) {
				errs = append(errs, field.Invalid(pp.Child("port"), port.Port, msg))
			}
			errs = append(errs, validateProtocol(port.Protocol, pp.Child("protocol"))...)
		}
	}
	return errs
}

func validateNode(n *corev1.Node, namespaced bool) field.ErrorList {
	errs := objectMeta(&n.ObjectMeta, namespaced, apimachineryvalidation.NameIsDNSSubdomain)
	for i, t := range n.Spec.Taints {
		// Upstream's taint path hangs off metadata (validateNodeTaints is
		// called with fldPath "metadata").
		tp := metaPath.Child("taints").Index(i)
		errs = append(errs, unversionedvalidation.ValidateLabelName(t.Key, tp.Child("key"))...)
		if msgs := validation.IsValidLabelValue(t.Value); len(msgs) != 0 {
			errs = append(errs, field.Invalid(tp.Child("value"), t.Value, strings.Join(msgs, ";")))
		}
		switch t.Effect {
		case corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule, corev1.TaintEffectNoExecute:
		case "":
			errs = append(errs, field.Required(tp.Child("effect"), ""))
		default:
			errs = append(errs, field.NotSupported(tp.Child("effect"), t.Effect, []corev1.TaintEffect{corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule, corev1.TaintEffectNoExecute}))
		}
	}
	for i, c := range n.Spec.PodCIDRs {
		errs = append(errs, validation.IsValidCIDR(field.NewPath("spec", "podCIDRs").Index(i), c)...)
	}
	return errs
}

func nodeUpdate(n, o *corev1.Node) field.ErrorList {
	var errs field.ErrorList
	if len(o.Spec.PodCIDRs) > 0 && !reflect.DeepEqual(o.Spec.PodCIDRs, n.Spec.PodCIDRs) {
		errs = append(errs, field.Forbidden(field.NewPath("spec", "podCIDRs"), "node updates may not change podCIDR except from \"\" to valid"))
	}
	if o.Spec.ProviderID != "" && o.Spec.ProviderID != n.Spec.ProviderID {
		errs = append(errs, field.Forbidden(field.NewPath("spec", "providerID"), "node updates may not change providerID except from \"\" to valid"))
	}
	if n.Spec.DoNotUseExternalID != o.Spec.DoNotUseExternalID {
		errs = append(errs, field.Forbidden(field.NewPath("spec", "externalID"), "may not be updated"))
	}
	return errs
}

var accessModes = []corev1.PersistentVolumeAccessMode{corev1.ReadOnlyMany, corev1.ReadWriteMany, corev1.ReadWriteOnce, corev1.ReadWriteOncePod}

func validateAccessModes(modes []corev1.PersistentVolumeAccessMode, p *field.Path, requiredMsg string) field.ErrorList {
	var errs field.ErrorList
	if len(modes) == 0 {
		errs = append(errs, field.Required(p, requiredMsg))
	}
	rwop, other := false, false
	for _, m := range modes {
		switch m {
		case corev1.ReadWriteOncePod:
			rwop = true
		case corev1.ReadWriteOnce, corev1.ReadOnlyMany, corev1.ReadWriteMany:
			other = true
		default:
			errs = append(errs, field.NotSupported(p, m, accessModes))
		}
	}
	if rwop && other {
		errs = append(errs, field.Forbidden(p, "may not use ReadWriteOncePod with other access modes"))
	}
	return errs
}

func validatePersistentVolume(pv *corev1.PersistentVolume, namespaced bool) field.ErrorList {
	sp := field.NewPath("spec")
	errs := objectMeta(&pv.ObjectMeta, namespaced, apimachineryvalidation.NameIsDNSSubdomain)
	errs = append(errs, validateAccessModes(pv.Spec.AccessModes, sp.Child("accessModes"), "")...)
	if len(pv.Spec.Capacity) == 0 {
		errs = append(errs, field.Required(sp.Child("capacity"), ""))
	}
	if _, ok := pv.Spec.Capacity[corev1.ResourceStorage]; !ok || len(pv.Spec.Capacity) > 1 {
		errs = append(errs, field.NotSupported(sp.Child("capacity"), pv.Spec.Capacity, []corev1.ResourceName{corev1.ResourceStorage}))
	}
	for r, q := range pv.Spec.Capacity {
		if q.Cmp(resource.Quantity{}) <= 0 {
			errs = append(errs, field.Invalid(sp.Child("capacity").Key(string(r)), q.String(), "must be greater than zero"))
		}
	}
	if rp := pv.Spec.PersistentVolumeReclaimPolicy; rp != "" && rp != corev1.PersistentVolumeReclaimDelete && rp != corev1.PersistentVolumeReclaimRecycle && rp != corev1.PersistentVolumeReclaimRetain {
		errs = append(errs, field.NotSupported(sp.Child("persistentVolumeReclaimPolicy"), rp,
			[]corev1.PersistentVolumeReclaimPolicy{corev1.PersistentVolumeReclaimDelete, corev1.PersistentVolumeReclaimRecycle, corev1.PersistentVolumeReclaimRetain}))
	}
	n := 0
	v := reflect.ValueOf(&pv.Spec.PersistentVolumeSource).Elem()
	for i := 0; i < v.NumField(); i++ {
		if v.Field(i).IsNil() {
			continue
		}
		if n > 0 {
			name := strings.Split(v.Type().Field(i).Tag.Get("json"), ",")[0]
			errs = append(errs, field.Forbidden(sp.Child(name), "may not specify more than 1 volume type"))
			continue
		}
		n++
	}
	if n == 0 {
		errs = append(errs, field.Required(sp, "must specify a volume type"))
	}
	if pv.Spec.Local != nil && pv.Spec.NodeAffinity == nil {
		errs = append(errs, field.Required(sp.Child("nodeAffinity"), "Local volume requires node affinity"))
	}
	if m := pv.Spec.VolumeMode; m != nil && *m != corev1.PersistentVolumeBlock && *m != corev1.PersistentVolumeFilesystem {
		errs = append(errs, field.NotSupported(sp.Child("volumeMode"), *m, []corev1.PersistentVolumeMode{corev1.PersistentVolumeBlock, corev1.PersistentVolumeFilesystem}))
	}
	return errs
}

func pvUpdate(n, o *corev1.PersistentVolume) field.ErrorList {
	var errs field.ErrorList
	if !apiequality.Semantic.DeepEqual(n.Spec.PersistentVolumeSource, o.Spec.PersistentVolumeSource) {
		errs = append(errs, field.Forbidden(field.NewPath("spec", "persistentvolumesource"), "spec.persistentvolumesource is immutable after creation"))
	}
	// Upstream's path really is the bare "volumeMode".
	return append(errs, immutable(n.Spec.VolumeMode, o.Spec.VolumeMode, field.NewPath("volumeMode"))...)
}

func validatePVCSpec(s *corev1.PersistentVolumeClaimSpec, p *field.Path) field.ErrorList {
	errs := validateAccessModes(s.AccessModes, p.Child("accessModes"), "at least 1 access mode is required")
	if s.Selector != nil {
		errs = append(errs, unversionedvalidation.ValidateLabelSelector(s.Selector, unversionedvalidation.LabelSelectorValidationOptions{}, p.Child("selector"))...)
	}
	rp := p.Child("resources").Key(string(corev1.ResourceStorage))
	if q, ok := s.Resources.Requests[corev1.ResourceStorage]; !ok {
		errs = append(errs, field.Required(rp, ""))
	} else if q.Cmp(resource.Quantity{}) <= 0 {
		errs = append(errs, field.Invalid(rp, q.String(), "must be greater than zero"))
	}
	if s.StorageClassName != nil && *s.StorageClassName != "" {
		errs = append(errs, dnsSubdomain(*s.StorageClassName, p.Child("storageClassName"))...)
	}
	if m := s.VolumeMode; m != nil && *m != corev1.PersistentVolumeBlock && *m != corev1.PersistentVolumeFilesystem {
		errs = append(errs, field.NotSupported(p.Child("volumeMode"), *m, []corev1.PersistentVolumeMode{corev1.PersistentVolumeBlock, corev1.PersistentVolumeFilesystem}))
	}
	return errs
}

func pvcUpdate(n, o *corev1.PersistentVolumeClaim) field.ErrorList {
	ns, os := n.Spec.DeepCopy(), o.Spec.DeepCopy()
	if o.Spec.VolumeName == "" {
		os.VolumeName = ns.VolumeName // binding is allowed once
	}
	if n.Status.Phase == corev1.ClaimBound && ns.Resources.Requests != nil {
		ns.Resources.Requests[corev1.ResourceStorage] = o.Spec.Resources.Requests[corev1.ResourceStorage]
		ns.VolumeAttributesClassName = os.VolumeAttributesClassName
	}
	var errs field.ErrorList
	if !apiequality.Semantic.DeepEqual(ns, os) {
		errs = append(errs, field.Forbidden(field.NewPath("spec"), "spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims"))
	}
	newSize, oldSize := n.Spec.Resources.Requests[corev1.ResourceStorage], o.Spec.Resources.Requests[corev1.ResourceStorage]
	if newSize.Cmp(oldSize) < 0 {
		errs = append(errs, field.Forbidden(field.NewPath("spec", "resources", "requests", "storage"), "field can not be less than previous value"))
	}
	return errs
}

// validateCoreEvent is legacyValidateEvent for a core/v1 request: no
// ObjectMeta name rules beyond being a usable path segment.
func validateCoreEvent(e *corev1.Event, namespaced bool) field.ErrorList {
	errs := objectMeta(&e.ObjectMeta, namespaced, pathSegmentName)
	return append(errs, legacyEvent(e.Namespace, e.InvolvedObject.Namespace, e.EventTime.IsZero(), e.ReportingController, e.ReportingInstance, e.Action, e.Reason, e.Message, "reportingComponent")...)
}

func legacyEvent(ns, involvedNS string, noEventTime bool, controller, instance, action, reason, message, controllerField string) field.ErrorList {
	var errs field.ErrorList
	inv := field.NewPath("involvedObject", "namespace")
	if noEventTime {
		if involvedNS == "" {
			if ns != "" && ns != "default" {
				errs = append(errs, field.Invalid(inv, involvedNS, "does not match event.namespace"))
			}
		} else if ns != involvedNS {
			errs = append(errs, field.Invalid(inv, involvedNS, "does not match event.namespace"))
		}
	} else {
		if involvedNS == "" && ns != "default" && ns != "kube-system" {
			errs = append(errs, field.Invalid(inv, involvedNS, "does not match event.namespace"))
		}
		if controller == "" {
			errs = append(errs, field.Required(field.NewPath(controllerField), ""))
		}
		errs = append(errs, qualifiedName(controller, field.NewPath(controllerField))...)
		if instance == "" {
			errs = append(errs, field.Required(field.NewPath("reportingInstance"), ""))
		}
		if len(instance) > 128 {
			errs = append(errs, field.Invalid(field.NewPath("reportingInstance"), "", "can have at most 128 characters"))
		}
		if action == "" {
			errs = append(errs, field.Required(field.NewPath("action"), ""))
		}
		if len(action) > 128 {
			errs = append(errs, field.Invalid(field.NewPath("action"), "", "can have at most 128 characters"))
		}
		if reason == "" {
			errs = append(errs, field.Required(field.NewPath("reason"), ""))
		}
		if len(reason) > 128 {
			errs = append(errs, field.Invalid(field.NewPath("reason"), "", "can have at most 128 characters"))
		}
		if len(message) > 1024 {
			errs = append(errs, field.Invalid(field.NewPath("message"), "", "can have at most 1024 characters"))
		}
	}
	for _, msg := range validation.IsDNS1123Subdomain(ns) {
		errs = append(errs, field.Invalid(field.NewPath("namespace"), ns, msg))
	}
	return errs
}

// validateEventsV1Event is ValidateEventCreate for events.k8s.io/v1.
func validateEventsV1Event(e *eventsv1.Event, namespaced bool) field.ErrorList {
	errs := legacyEvent(e.Namespace, e.Regarding.Namespace, e.EventTime.IsZero(), e.ReportingController, e.ReportingInstance, e.Action, e.Reason, e.Note, "reportingController")
	errs = append(errs, objectMeta(&e.ObjectMeta, namespaced, apimachineryvalidation.NameIsDNSSubdomain)...)
	if e.EventTime.IsZero() {
		errs = append(errs, field.Required(field.NewPath("eventTime"), ""))
	}
	if e.Type != corev1.EventTypeNormal && e.Type != corev1.EventTypeWarning {
		errs = append(errs, field.Invalid(field.NewPath("type"), "", fmt.Sprintf("has invalid value: %v", e.Type)))
	}
	if !e.DeprecatedFirstTimestamp.IsZero() {
		errs = append(errs, field.Invalid(field.NewPath("deprecatedFirstTimestamp"), "", "needs to be unset"))
	}
	if !e.DeprecatedLastTimestamp.IsZero() {
		errs = append(errs, field.Invalid(field.NewPath("deprecatedLastTimestamp"), "", "needs to be unset"))
	}
	if e.DeprecatedCount != 0 {
		errs = append(errs, field.Invalid(field.NewPath("deprecatedCount"), "", "needs to be unset"))
	}
	if e.DeprecatedSource.Component != "" || e.DeprecatedSource.Host != "" {
		errs = append(errs, field.Invalid(field.NewPath("deprecatedSource"), "", "needs to be unset"))
	}
	return errs
}

func validateEventsV1Update(n, o *eventsv1.Event, namespaced bool) field.ErrorList {
	errs := metaUpdate(&n.ObjectMeta, &o.ObjectMeta)
	errs = append(errs, legacyEvent(n.Namespace, n.Regarding.Namespace, n.EventTime.IsZero(), n.ReportingController, n.ReportingInstance, n.Action, n.Reason, n.Note, "reportingController")...)
	for _, f := range []struct {
		name     string
		new, old interface{}
	}{
		{"regarding", n.Regarding, o.Regarding}, {"reason", n.Reason, o.Reason}, {"action", n.Action, o.Action},
		{"reportingController", n.ReportingController, o.ReportingController}, {"reportingInstance", n.ReportingInstance, o.ReportingInstance},
		{"eventTime", n.EventTime, o.EventTime}, {"type", n.Type, o.Type}, {"note", n.Note, o.Note}, {"related", n.Related, o.Related},
	} {
		errs = append(errs, immutable(f.new, f.old, field.NewPath(f.name))...)
	}
	return errs
}

func validateLease(l *coordinationv1.Lease, namespaced bool) field.ErrorList {
	sp := field.NewPath("spec")
	errs := objectMeta(&l.ObjectMeta, namespaced, apimachineryvalidation.NameIsDNSSubdomain)
	if d := l.Spec.LeaseDurationSeconds; d != nil && *d <= 0 {
		errs = append(errs, field.Invalid(sp.Child("leaseDurationSeconds"), d, "must be greater than 0"))
	}
	if t := l.Spec.LeaseTransitions; t != nil && *t < 0 {
		errs = append(errs, field.Invalid(sp.Child("leaseTransitions"), t, "must be greater than or equal to 0"))
	}
	if st := l.Spec.Strategy; st != nil {
		// ValidateCoordinatedLeaseStrategy, called with spec.strategy, adds
		// "strategy" once more: upstream's path is spec.strategy.strategy.
		p := sp.Child("strategy").Child("strategy")
		if !strings.Contains(string(*st), "/") {
			// Unqualified names are Kubernetes-defined: one exists.
			if *st != coordinationv1.OldestEmulationVersion {
				errs = append(errs, field.NotSupported(p, *st, []coordinationv1.CoordinatedLeaseStrategy{coordinationv1.OldestEmulationVersion}))
			}
		} else {
			for _, msg := range validation.IsQualifiedName(string(*st)) {
				errs = append(errs, field.Invalid(p, *st, msg))
			}
		}
	}
	if ph := l.Spec.PreferredHolder; ph != nil && *ph != "" && (l.Spec.Strategy == nil || *l.Spec.Strategy == "") {
		errs = append(errs, field.Forbidden(sp.Child("preferredHolder"), "may only be specified if `strategy` is defined"))
	}
	return errs
}

var addressTypes = []discoveryv1.AddressType{discoveryv1.AddressTypeFQDN, discoveryv1.AddressTypeIPv4, discoveryv1.AddressTypeIPv6}

func validateEndpointSlice(es *discoveryv1.EndpointSlice, namespaced bool) field.ErrorList {
	errs := objectMeta(&es.ObjectMeta, namespaced, apimachineryvalidation.NameIsDNSSubdomain)
	at := field.NewPath("addressType")
	switch es.AddressType {
	case "":
		errs = append(errs, field.Required(at, ""))
	case discoveryv1.AddressTypeIPv4, discoveryv1.AddressTypeIPv6, discoveryv1.AddressTypeFQDN:
	default:
		errs = append(errs, field.NotSupported(at, es.AddressType, addressTypes))
	}
	if len(es.Endpoints) > 1000 {
		errs = append(errs, field.TooMany(field.NewPath("endpoints"), len(es.Endpoints), 1000))
	}
	for i, ep := range es.Endpoints {
		ap := field.NewPath("endpoints").Index(i).Child("addresses")
		if len(ep.Addresses) == 0 {
			errs = append(errs, field.Required(ap, "must contain at least 1 address"))
		} else if len(ep.Addresses) > 100 {
			errs = append(errs, field.TooMany(ap, len(ep.Addresses), 100))
		}
		for j, a := range ep.Addresses {
			switch es.AddressType {
			case discoveryv1.AddressTypeIPv4, discoveryv1.AddressTypeIPv6:
				errs = append(errs, ipOfFamily(a, es.AddressType == discoveryv1.AddressTypeIPv4, ap.Index(j))...)
			case discoveryv1.AddressTypeFQDN:
				errs = append(errs, dnsSubdomain(a, ap.Index(j))...)
			}
		}
	}
	names := sets.New[string]()
	for i, port := range es.Ports {
		pp := field.NewPath("ports").Index(i)
		name := ""
		if port.Name != nil {
			name = *port.Name
		}
		if name != "" {
			errs = append(errs, dnsLabel(name, pp.Child("name"))...)
		}
		if names.Has(name) {
			errs = append(errs, field.Duplicate(pp.Child("name"), name))
		}
		names.Insert(name)
		if port.Protocol == nil {
			errs = append(errs, field.Required(pp.Child("protocol"), ""))
		} else {
			errs = append(errs, validateProtocol(*port.Protocol, pp.Child("protocol"))...)
		}
		if port.Port != nil {
			for _, msg := range validation.IsValidPortNum(int(*port.Port)) {
				errs = append(errs, field.Invalid(pp.Child("port"), *port.Port, msg))
			}
		}
	}
	return errs
}

func ipOfFamily(a string, v4 bool, p *field.Path) field.ErrorList {
	if errs := validation.IsValidIP(p, a); len(errs) != 0 {
		return errs
	}
	ip := net.ParseIP(a)
	if v4 && ip.To4() == nil {
		return field.ErrorList{field.Invalid(p, a, "must be a valid IPv4 address")}
	}
	if !v4 && ip.To4() != nil {
		return field.ErrorList{field.Invalid(p, a, "must be a valid IPv6 address")}
	}
	return nil
}

func validateStorageClass(sc *storagev1.StorageClass, namespaced bool) field.ErrorList {
	errs := objectMeta(&sc.ObjectMeta, namespaced, apimachineryvalidation.NameIsDNSSubdomain)
	pp := field.NewPath("provisioner")
	if sc.Provisioner == "" {
		errs = append(errs, field.Required(pp, sc.Provisioner))
	} else {
		errs = append(errs, qualifiedName(strings.ToLower(sc.Provisioner), pp)...)
	}
	total := 0
	for k, v := range sc.Parameters {
		if k == "" {
			errs = append(errs, field.Invalid(field.NewPath("parameters"), k, "field can not be empty."))
		}
		total += len(k) + len(v)
	}
	if len(sc.Parameters) > 512 {
		errs = append(errs, field.TooLong(field.NewPath("parameters"), "", 512))
	}
	if total > 256*1024 {
		errs = append(errs, field.TooLong(field.NewPath("parameters"), "", 256*1024))
	}
	if rp := sc.ReclaimPolicy; rp != nil && *rp != "" && *rp != corev1.PersistentVolumeReclaimDelete && *rp != corev1.PersistentVolumeReclaimRetain {
		errs = append(errs, field.NotSupported(field.NewPath("reclaimPolicy"), *rp, []corev1.PersistentVolumeReclaimPolicy{corev1.PersistentVolumeReclaimDelete, corev1.PersistentVolumeReclaimRetain}))
	}
	bp := field.NewPath("volumeBindingMode")
	if sc.VolumeBindingMode == nil {
		errs = append(errs, field.Required(bp, ""))
	} else if m := *sc.VolumeBindingMode; m != storagev1.VolumeBindingImmediate && m != storagev1.VolumeBindingWaitForFirstConsumer {
		errs = append(errs, field.NotSupported(bp, m, []storagev1.VolumeBindingMode{storagev1.VolumeBindingImmediate, storagev1.VolumeBindingWaitForFirstConsumer}))
	}
	return errs
}

func storageClassUpdate(n, o *storagev1.StorageClass) field.ErrorList {
	var errs field.ErrorList
	if !reflect.DeepEqual(o.Parameters, n.Parameters) {
		errs = append(errs, field.Forbidden(field.NewPath("parameters"), "updates to parameters are forbidden."))
	}
	if n.Provisioner != o.Provisioner {
		errs = append(errs, field.Forbidden(field.NewPath("provisioner"), "updates to provisioner are forbidden."))
	}
	if !reflect.DeepEqual(n.ReclaimPolicy, o.ReclaimPolicy) {
		errs = append(errs, field.Forbidden(field.NewPath("reclaimPolicy"), "updates to reclaimPolicy are forbidden."))
	}
	return append(errs, immutable(n.VolumeBindingMode, o.VolumeBindingMode, field.NewPath("volumeBindingMode"))...)
}
