package printers

import (
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Printers for core/v1 resources other than pods and events (pod.go,
// events.go).

const (
	// labelNodeRolePrefix and nodeLabelRole are the labels upstream reads
	// a node's ROLES from.
	labelNodeRolePrefix = "node-role.kubernetes.io/"
	nodeLabelRole       = "kubernetes.io/role"

	// betaStorageClassAnnotation takes precedence over spec.storageClassName
	// for PVs and PVCs, as in upstream's helper.GetPersistentVolume(Claim)Class.
	betaStorageClassAnnotation = "volume.beta.kubernetes.io/storage-class"
)

func core(resource string) schema.GroupResource {
	return schema.GroupResource{Resource: resource}
}

func addCore(s *Set) {
	s.add(Printer{
		Columns: []metav1.TableColumnDefinition{
			nameColumn(),
			col("Status", "string", "The status of the namespace"),
			ageColumn(),
		},
		Cells: cellsOf("namespaces", namespaceCells),
	}, core("namespaces"))

	s.add(Printer{
		Columns: []metav1.TableColumnDefinition{
			nameColumn(),
			col("Data", "string", corev1.ConfigMap{}.SwaggerDoc()["data"]),
			ageColumn(),
		},
		Cells: cellsOf("configmaps", configMapCells),
	}, core("configmaps"))

	s.add(Printer{
		Columns: []metav1.TableColumnDefinition{
			nameColumn(),
			col("Type", "string", corev1.Secret{}.SwaggerDoc()["type"]),
			col("Data", "string", corev1.Secret{}.SwaggerDoc()["data"]),
			ageColumn(),
		},
		Cells: cellsOf("secrets", secretCells),
	}, core("secrets"))

	s.add(Printer{
		Columns: []metav1.TableColumnDefinition{nameColumn(), ageColumn()},
		Cells:   cellsOf("serviceaccounts", serviceAccountCells),
	}, core("serviceaccounts"))

	svcDoc := corev1.ServiceSpec{}.SwaggerDoc()
	s.add(Printer{
		Columns: []metav1.TableColumnDefinition{
			nameColumn(),
			col("Type", "string", svcDoc["type"]),
			col("Cluster-IP", "string", svcDoc["clusterIP"]),
			col("External-IP", "string", svcDoc["externalIPs"]),
			col("Port(s)", "string", svcDoc["ports"]),
			ageColumn(),
			wideCol("Selector", "string", svcDoc["selector"]),
		},
		Cells: cellsOf("services", serviceCells),
	}, core("services"))

	s.add(Printer{
		Columns: []metav1.TableColumnDefinition{
			nameColumn(),
			col("Endpoints", "string", corev1.Endpoints{}.SwaggerDoc()["subsets"]),
			ageColumn(),
		},
		Cells: cellsOf("endpoints", endpointsCells),
	}, core("endpoints"))

	nodeInfoDoc := corev1.NodeSystemInfo{}.SwaggerDoc()
	nodeStatusDoc := corev1.NodeStatus{}.SwaggerDoc()
	s.add(Printer{
		Columns: []metav1.TableColumnDefinition{
			nameColumn(),
			col("Status", "string", "The status of the node"),
			col("Roles", "string", "The roles of the node"),
			ageColumn(),
			col("Version", "string", nodeInfoDoc["kubeletVersion"]),
			wideCol("Internal-IP", "string", nodeStatusDoc["addresses"]),
			wideCol("External-IP", "string", nodeStatusDoc["addresses"]),
			wideCol("OS-Image", "string", nodeInfoDoc["osImage"]),
			wideCol("Kernel-Version", "string", nodeInfoDoc["kernelVersion"]),
			wideCol("Container-Runtime", "string", nodeInfoDoc["containerRuntimeVersion"]),
		},
		Cells: cellsOf("nodes", nodeCells),
	}, core("nodes"))

	pvSpecDoc := corev1.PersistentVolumeSpec{}.SwaggerDoc()
	pvStatusDoc := corev1.PersistentVolumeStatus{}.SwaggerDoc()
	s.add(Printer{
		Columns: []metav1.TableColumnDefinition{
			nameColumn(),
			col("Capacity", "string", pvSpecDoc["capacity"]),
			col("Access Modes", "string", pvSpecDoc["accessModes"]),
			col("Reclaim Policy", "string", pvSpecDoc["persistentVolumeReclaimPolicy"]),
			col("Status", "string", pvStatusDoc["phase"]),
			col("Claim", "string", pvSpecDoc["claimRef"]),
			col("StorageClass", "string", "StorageClass of the pv"),
			col("VolumeAttributesClass", "string", "VolumeAttributesClass of the pv"),
			col("Reason", "string", pvStatusDoc["reason"]),
			ageColumn(),
			wideCol("VolumeMode", "string", pvSpecDoc["volumeMode"]),
		},
		Cells: cellsOf("persistentvolumes", persistentVolumeCells),
	}, core("persistentvolumes"))

	pvcSpecDoc := corev1.PersistentVolumeClaimSpec{}.SwaggerDoc()
	pvcStatusDoc := corev1.PersistentVolumeClaimStatus{}.SwaggerDoc()
	s.add(Printer{
		Columns: []metav1.TableColumnDefinition{
			nameColumn(),
			col("Status", "string", pvcStatusDoc["phase"]),
			col("Volume", "string", pvcSpecDoc["volumeName"]),
			col("Capacity", "string", pvcStatusDoc["capacity"]),
			col("Access Modes", "string", pvcStatusDoc["accessModes"]),
			col("StorageClass", "string", "StorageClass of the pvc"),
			col("VolumeAttributesClass", "string", "VolumeAttributesClass of the pvc"),
			ageColumn(),
			wideCol("VolumeMode", "string", pvcSpecDoc["volumeMode"]),
		},
		Cells: cellsOf("persistentvolumeclaims", persistentVolumeClaimCells),
	}, core("persistentvolumeclaims"))

	s.add(Printer{
		Columns: []metav1.TableColumnDefinition{
			nameColumn(),
			containersColumn(0),
			imagesColumn(0),
			col("Pod Labels", "string", "The labels for the pod template."),
		},
		Cells: cellsOf("podtemplates", podTemplateCells),
	}, core("podtemplates"))

	rcSpecDoc := corev1.ReplicationControllerSpec{}.SwaggerDoc()
	rcStatusDoc := corev1.ReplicationControllerStatus{}.SwaggerDoc()
	s.add(Printer{
		Columns: []metav1.TableColumnDefinition{
			nameColumn(),
			col("Desired", "integer", rcSpecDoc["replicas"]),
			col("Current", "integer", rcStatusDoc["replicas"]),
			col("Ready", "integer", rcStatusDoc["readyReplicas"]),
			ageColumn(),
			containersColumn(1),
			imagesColumn(1),
			wideCol("Selector", "string", rcSpecDoc["selector"]),
		},
		Cells: cellsOf("replicationcontrollers", replicationControllerCells),
	}, core("replicationcontrollers"))
}

// namespaceCells prints status.phase as-is (spec A12: namespaces show their
// phase, so a namespace being deleted shows "Terminating" because the
// namespace lifecycle sets that phase, not because of deletionTimestamp).
func namespaceCells(ns *corev1.Namespace, now time.Time) []interface{} {
	return []interface{}{ns.Name, string(ns.Status.Phase), translateTimestampSince(ns.CreationTimestamp, now)}
}

func configMapCells(cm *corev1.ConfigMap, now time.Time) []interface{} {
	return []interface{}{cm.Name, int64(len(cm.Data) + len(cm.BinaryData)), translateTimestampSince(cm.CreationTimestamp, now)}
}

// secretCells counts data keys. Upstream prints the internal object, whose
// Data already has stringData merged in by conversion, so stringData keys
// not present in data are counted too.
func secretCells(sec *corev1.Secret, now time.Time) []interface{} {
	n := len(sec.Data)
	for k := range sec.StringData {
		if _, ok := sec.Data[k]; !ok {
			n++
		}
	}
	return []interface{}{sec.Name, string(sec.Type), int64(n), translateTimestampSince(sec.CreationTimestamp, now)}
}

func serviceAccountCells(sa *corev1.ServiceAccount, now time.Time) []interface{} {
	return []interface{}{sa.Name, translateTimestampSince(sa.CreationTimestamp, now)}
}

func serviceCells(svc *corev1.Service, now time.Time) []interface{} {
	// Upstream reads the internal spec.clusterIPs; a stored v1 service
	// always has clusterIPs mirroring clusterIP, but fall back to the
	// singular field for objects that only set it.
	internalIP := "<none>"
	if len(svc.Spec.ClusterIPs) > 0 {
		internalIP = svc.Spec.ClusterIPs[0]
	} else if svc.Spec.ClusterIP != "" {
		internalIP = svc.Spec.ClusterIP
	}
	ports := makePortString(svc.Spec.Ports)
	if ports == "" {
		ports = "<none>"
	}
	return []interface{}{
		svc.Name, string(svc.Spec.Type), internalIP, serviceExternalIP(svc), ports,
		translateTimestampSince(svc.CreationTimestamp, now),
		labels.FormatLabels(svc.Spec.Selector),
	}
}

// serviceExternalIP is upstream's getServiceExternalIP with wide=true (the
// server always generates wide rows, so load-balancer addresses are never
// clipped to upstream's 16-character non-wide width).
func serviceExternalIP(svc *corev1.Service) string {
	switch svc.Spec.Type {
	case corev1.ServiceTypeClusterIP, corev1.ServiceTypeNodePort:
		if len(svc.Spec.ExternalIPs) > 0 {
			return strings.Join(svc.Spec.ExternalIPs, ",")
		}
		return "<none>"
	case corev1.ServiceTypeLoadBalancer:
		lbIPs := loadBalancerStatusString(svc.Status.LoadBalancer)
		if len(svc.Spec.ExternalIPs) > 0 {
			var results []string
			if lbIPs != "" {
				results = append(results, strings.Split(lbIPs, ",")...)
			}
			results = append(results, svc.Spec.ExternalIPs...)
			return strings.Join(results, ",")
		}
		if lbIPs != "" {
			return lbIPs
		}
		return "<pending>"
	case corev1.ServiceTypeExternalName:
		return svc.Spec.ExternalName
	}
	return "<unknown>"
}

// loadBalancerStatusString returns the sorted, de-duplicated ingress IPs
// (or hostnames when an entry has no IP), comma-joined.
func loadBalancerStatusString(s corev1.LoadBalancerStatus) string {
	seen := map[string]bool{}
	var out []string
	for _, ing := range s.Ingress {
		v := ing.IP
		if v == "" {
			v = ing.Hostname
		}
		if v != "" && !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}

func makePortString(ports []corev1.ServicePort) string {
	pieces := make([]string, len(ports))
	for i, p := range ports {
		if p.NodePort > 0 {
			pieces[i] = fmt.Sprintf("%d:%d/%s", p.Port, p.NodePort, p.Protocol)
		} else {
			pieces[i] = fmt.Sprintf("%d/%s", p.Port, p.Protocol)
		}
	}
	return strings.Join(pieces, ",")
}

func endpointsCells(ep *corev1.Endpoints, now time.Time) []interface{} {
	return []interface{}{ep.Name, formatEndpoints(ep), translateTimestampSince(ep.CreationTimestamp, now)}
}

// formatEndpoints lists up to three ip:port pairs (bare IPs for port-less
// subsets) and a "+ N more..." suffix, "<none>" without subsets.
func formatEndpoints(ep *corev1.Endpoints) string {
	if len(ep.Subsets) == 0 {
		return "<none>"
	}
	const max = 3
	var list []string
	more := false
	count := 0
	for _, ss := range ep.Subsets {
		if len(ss.Ports) == 0 {
			// Headless services may have no ports.
			count += len(ss.Addresses)
			for _, addr := range ss.Addresses {
				if len(list) == max {
					more = true
					break
				}
				list = append(list, addr.IP)
			}
			continue
		}
		for _, port := range ss.Ports {
			count += len(ss.Addresses)
			for _, addr := range ss.Addresses {
				if len(list) == max {
					more = true
					break
				}
				list = append(list, net.JoinHostPort(addr.IP, strconv.Itoa(int(port.Port))))
			}
		}
	}
	ret := strings.Join(list, ",")
	if more {
		return fmt.Sprintf("%s + %d more...", ret, count-max)
	}
	return ret
}

func nodeCells(node *corev1.Node, now time.Time) []interface{} {
	// Only the Ready condition contributes to STATUS upstream.
	var status []string
	for i := range node.Status.Conditions {
		c := node.Status.Conditions[i]
		if c.Type != corev1.NodeReady {
			continue
		}
		// Upstream keeps the last condition of a type (map overwrite).
		status = status[:0]
		if c.Status == corev1.ConditionTrue {
			status = append(status, string(c.Type))
		} else {
			status = append(status, "Not"+string(c.Type))
		}
	}
	if len(status) == 0 {
		status = append(status, "Unknown")
	}
	if node.Spec.Unschedulable {
		status = append(status, "SchedulingDisabled")
	}

	roles := strings.Join(findNodeRoles(node), ",")
	if roles == "" {
		roles = "<none>"
	}

	info := node.Status.NodeInfo
	unknownIfEmpty := func(s string) string {
		if s == "" {
			return "<unknown>"
		}
		return s
	}
	return []interface{}{
		node.Name, strings.Join(status, ","), roles, translateTimestampSince(node.CreationTimestamp, now), info.KubeletVersion,
		nodeAddress(node, corev1.NodeInternalIP), nodeAddress(node, corev1.NodeExternalIP),
		unknownIfEmpty(info.OSImage), unknownIfEmpty(info.KernelVersion), unknownIfEmpty(info.ContainerRuntimeVersion),
	}
}

// nodeAddress returns the first address of the given type, "<none>" if none.
func nodeAddress(node *corev1.Node, t corev1.NodeAddressType) string {
	for _, a := range node.Status.Addresses {
		if a.Type == t {
			return a.Address
		}
	}
	return "<none>"
}

// findNodeRoles returns the sorted roles from node-role.kubernetes.io/<role>
// label keys and the kubernetes.io/role label value.
func findNodeRoles(node *corev1.Node) []string {
	set := map[string]bool{}
	for k, v := range node.Labels {
		switch {
		case strings.HasPrefix(k, labelNodeRolePrefix):
			if role := strings.TrimPrefix(k, labelNodeRolePrefix); role != "" {
				set[role] = true
			}
		case k == nodeLabelRole && v != "":
			set[v] = true
		}
	}
	roles := make([]string, 0, len(set))
	for r := range set {
		roles = append(roles, r)
	}
	sort.Strings(roles)
	return roles
}

// persistentVolumeCells shows STATUS Terminating once deletionTimestamp is
// set (spec A12), whatever the phase.
func persistentVolumeCells(pv *corev1.PersistentVolume, now time.Time) []interface{} {
	claim := ""
	if pv.Spec.ClaimRef != nil {
		claim = pv.Spec.ClaimRef.Namespace + "/" + pv.Spec.ClaimRef.Name
	}
	capacity := pv.Spec.Capacity[corev1.ResourceStorage]
	phase := string(pv.Status.Phase)
	if pv.DeletionTimestamp != nil {
		phase = "Terminating"
	}
	volumeMode := "<unset>"
	if pv.Spec.VolumeMode != nil {
		volumeMode = string(*pv.Spec.VolumeMode)
	}
	vac := "<unset>"
	if pv.Spec.VolumeAttributesClassName != nil {
		vac = *pv.Spec.VolumeAttributesClassName
	}
	class := pv.Spec.StorageClassName
	if c, ok := pv.Annotations[betaStorageClassAnnotation]; ok {
		class = c
	}
	return []interface{}{
		pv.Name, capacity.String(), accessModesString(pv.Spec.AccessModes), string(pv.Spec.PersistentVolumeReclaimPolicy),
		phase, claim, class, vac, pv.Status.Reason, translateTimestampSince(pv.CreationTimestamp, now), volumeMode,
	}
}

// persistentVolumeClaimCells shows STATUS Terminating once deletionTimestamp
// is set (spec A12). Capacity and access modes are only shown once bound to
// a volume, as upstream does.
func persistentVolumeClaimCells(pvc *corev1.PersistentVolumeClaim, now time.Time) []interface{} {
	phase := string(pvc.Status.Phase)
	if pvc.DeletionTimestamp != nil {
		phase = "Terminating"
	}
	vac := "<unset>"
	if pvc.Spec.VolumeAttributesClassName != nil {
		vac = *pvc.Spec.VolumeAttributesClassName
	}
	capacity, modes := "", ""
	if pvc.Spec.VolumeName != "" {
		modes = accessModesString(pvc.Status.AccessModes)
		q := pvc.Status.Capacity[corev1.ResourceStorage]
		capacity = q.String()
	}
	volumeMode := "<unset>"
	if pvc.Spec.VolumeMode != nil {
		volumeMode = string(*pvc.Spec.VolumeMode)
	}
	class := derefString(pvc.Spec.StorageClassName)
	if c, ok := pvc.Annotations[betaStorageClassAnnotation]; ok {
		class = c
	}
	return []interface{}{
		pvc.Name, phase, pvc.Spec.VolumeName, capacity, modes, class, vac,
		translateTimestampSince(pvc.CreationTimestamp, now), volumeMode,
	}
}

// accessModesString renders access modes de-duplicated in the fixed order
// RWO,ROX,RWX,RWOP.
func accessModesString(modes []corev1.PersistentVolumeAccessMode) string {
	has := map[corev1.PersistentVolumeAccessMode]bool{}
	for _, m := range modes {
		has[m] = true
	}
	var out []string
	for _, m := range []struct {
		mode  corev1.PersistentVolumeAccessMode
		short string
	}{
		{corev1.ReadWriteOnce, "RWO"},
		{corev1.ReadOnlyMany, "ROX"},
		{corev1.ReadWriteMany, "RWX"},
		{corev1.ReadWriteOncePod, "RWOP"},
	} {
		if has[m.mode] {
			out = append(out, m.short)
		}
	}
	return strings.Join(out, ",")
}

func podTemplateCells(pt *corev1.PodTemplate, _ time.Time) []interface{} {
	names, images := layoutContainerCells(pt.Template.Spec.Containers)
	return []interface{}{pt.Name, names, images, labels.FormatLabels(pt.Template.Labels)}
}

func replicationControllerCells(rc *corev1.ReplicationController, now time.Time) []interface{} {
	var containers []corev1.Container
	if rc.Spec.Template != nil {
		containers = rc.Spec.Template.Spec.Containers
	}
	names, images := layoutContainerCells(containers)
	return []interface{}{
		rc.Name, int64(derefInt32(rc.Spec.Replicas)), int64(rc.Status.Replicas), int64(rc.Status.ReadyReplicas),
		translateTimestampSince(rc.CreationTimestamp, now),
		names, images, labels.FormatLabels(rc.Spec.Selector),
	}
}
