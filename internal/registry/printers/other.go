package printers

import (
	"strconv"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	discoveryv1beta1 "k8s.io/api/discovery/v1beta1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Printers for coordination.k8s.io/v1 leases, discovery.k8s.io/v1
// endpointslices and storage.k8s.io/v1 storageclasses.

const (
	// Either annotation set to "true" marks the default StorageClass, which
	// upstream flags by appending " (default)" to the name.
	isDefaultStorageClassAnnotation     = "storageclass.kubernetes.io/is-default-class"
	betaIsDefaultStorageClassAnnotation = "storageclass.beta.kubernetes.io/is-default-class"
)

func addOther(s *Set) {
	s.add(Printer{
		Columns: []metav1.TableColumnDefinition{
			nameColumn(),
			col("Holder", "string", coordinationv1.LeaseSpec{}.SwaggerDoc()["holderIdentity"]),
			ageColumn(),
		},
		Cells: cellsOf("leases", leaseCells),
	}, schema.GroupResource{Group: "coordination.k8s.io", Resource: "leases"})

	// Upstream documents these columns with the v1beta1 SwaggerDoc.
	esDoc := discoveryv1beta1.EndpointSlice{}.SwaggerDoc()
	s.add(Printer{
		Columns: []metav1.TableColumnDefinition{
			nameColumn(),
			col("AddressType", "string", esDoc["addressType"]),
			col("Ports", "string", esDoc["ports"]),
			col("Endpoints", "string", esDoc["endpoints"]),
			ageColumn(),
		},
		Cells: cellsOf("endpointslices", endpointSliceCells),
	}, schema.GroupResource{Group: "discovery.k8s.io", Resource: "endpointslices"})

	s.add(storageClassPrinter(func(sc *storagev1.StorageClass) bool { return hasDefaultAnnotation(sc) }),
		schema.GroupResource{Group: "storage.k8s.io", Resource: "storageclasses"})
}

func storageClassPrinter(isDefault func(*storagev1.StorageClass) bool) Printer {
	scDoc := storagev1.StorageClass{}.SwaggerDoc()
	return Printer{
		Columns: []metav1.TableColumnDefinition{
			nameColumn(),
			col("Provisioner", "string", scDoc["provisioner"]),
			col("ReclaimPolicy", "string", scDoc["reclaimPolicy"]),
			col("VolumeBindingMode", "string", scDoc["volumeBindingMode"]),
			col("AllowVolumeExpansion", "string", scDoc["allowVolumeExpansion"]),
			ageColumn(),
		},
		Cells: cellsOf("storageclasses", func(sc *storagev1.StorageClass, now time.Time) []interface{} {
			return storageClassCells(sc, isDefault(sc), now)
		}),
	}
}

// StorageClassPrinter returns the storageclasses printer that appends
// " (default)" only to the class named effectiveDefault (none when it is
// empty). Upstream's StorageClass TableConvertor
// (pkg/registry/storage/storageclass) marks only the effective default when
// several classes carry the default annotation; computing it needs every
// class (the list being converted, or all classes for a single GET), so the
// caller passes the result of EffectiveDefaultStorageClass. The printer from
// For marks every annotated class, which is upstream's fallback when it
// cannot list.
func StorageClassPrinter(effectiveDefault string) Printer {
	return storageClassPrinter(func(sc *storagev1.StorageClass) bool {
		return effectiveDefault != "" && sc.Name == effectiveDefault
	})
}

// EffectiveDefaultStorageClass returns the name of the class upstream shows
// as "(default)": among classes with the default annotation, the most
// recently created, ties broken by the alphabetically first name; "" when no
// class is annotated.
func EffectiveDefaultStorageClass(classes []storagev1.StorageClass) string {
	var best *storagev1.StorageClass
	for i := range classes {
		sc := &classes[i]
		if !hasDefaultAnnotation(sc) {
			continue
		}
		if best == nil {
			best = sc
			continue
		}
		a, b := sc.CreationTimestamp.UnixNano(), best.CreationTimestamp.UnixNano()
		if a > b || (a == b && sc.Name < best.Name) {
			best = sc
		}
	}
	if best == nil {
		return ""
	}
	return best.Name
}

func hasDefaultAnnotation(sc *storagev1.StorageClass) bool {
	return sc.Annotations[isDefaultStorageClassAnnotation] == "true" || sc.Annotations[betaIsDefaultStorageClassAnnotation] == "true"
}

func leaseCells(l *coordinationv1.Lease, now time.Time) []interface{} {
	return []interface{}{l.Name, derefString(l.Spec.HolderIdentity), translateTimestampSince(l.CreationTimestamp, now)}
}

func endpointSliceCells(es *discoveryv1.EndpointSlice, now time.Time) []interface{} {
	return []interface{}{
		es.Name, string(es.AddressType), formatDiscoveryPorts(es.Ports), formatDiscoveryEndpoints(es.Endpoints),
		translateTimestampSince(es.CreationTimestamp, now),
	}
}

// formatDiscoveryPorts lists up to three port numbers (the name for a
// named port without number, "*" for neither).
func formatDiscoveryPorts(ports []discoveryv1.EndpointPort) string {
	const max = 3
	var list []string
	more := false
	for _, p := range ports {
		if len(list) < max {
			s := "*"
			if p.Port != nil {
				s = strconv.Itoa(int(*p.Port))
			} else if p.Name != nil {
				s = *p.Name
			}
			list = append(list, s)
		} else if len(list) == max {
			more = true
		}
	}
	return listWithMoreString(list, more, len(ports), max)
}

// formatDiscoveryEndpoints lists up to three addresses across endpoints.
func formatDiscoveryEndpoints(endpoints []discoveryv1.Endpoint) string {
	const max = 3
	var list []string
	more := false
	count := 0
	for _, ep := range endpoints {
		for _, addr := range ep.Addresses {
			if len(list) < max {
				list = append(list, addr)
			} else if len(list) == max {
				more = true
			}
			count++
		}
	}
	return listWithMoreString(list, more, count, max)
}

// storageClassCells applies upstream's defaults for unset fields: reclaim
// policy Delete, binding mode Immediate, expansion false.
func storageClassCells(sc *storagev1.StorageClass, isDefault bool, now time.Time) []interface{} {
	name := sc.Name
	if isDefault {
		name += " (default)"
	}
	reclaim := string(corev1.PersistentVolumeReclaimDelete)
	if sc.ReclaimPolicy != nil {
		reclaim = string(*sc.ReclaimPolicy)
	}
	binding := string(storagev1.VolumeBindingImmediate)
	if sc.VolumeBindingMode != nil {
		binding = string(*sc.VolumeBindingMode)
	}
	expansion := false
	if sc.AllowVolumeExpansion != nil {
		expansion = *sc.AllowVolumeExpansion
	}
	return []interface{}{name, sc.Provisioner, reclaim, binding, expansion, translateTimestampSince(sc.CreationTimestamp, now)}
}
