package node

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// DefaultMaxPods is the kubelet's default --max-pods.
const DefaultMaxPods = 110

// Machine is what the agent reports about the host it runs on.
type Machine struct {
	Capacity corev1.ResourceList
	// Allocatable is Capacity minus reservations (none by default, as a
	// kubelet without --kube-reserved/--system-reserved).
	Allocatable corev1.ResourceList
	Info        corev1.NodeSystemInfo
}

// ReadMachine reads the host's CPUs, memory, the file system holding
// dataDir and the system identity, as the kubelet's cAdvisor-based
// machine info does.
func ReadMachine(dataDir string, maxPods int) (Machine, error) {
	if maxPods <= 0 {
		maxPods = DefaultMaxPods
	}
	mem, err := memTotal("/proc/meminfo")
	if err != nil {
		return Machine{}, err
	}
	var fs syscall.Statfs_t
	if err := syscall.Statfs(dataDir, &fs); err != nil {
		return Machine{}, fmt.Errorf("statfs %s: %w", dataDir, err)
	}
	capacity := corev1.ResourceList{
		corev1.ResourceCPU:              *resource.NewQuantity(int64(runtime.NumCPU()), resource.DecimalSI),
		corev1.ResourceMemory:           *resource.NewQuantity(mem, resource.BinarySI),
		corev1.ResourceEphemeralStorage: *resource.NewQuantity(int64(fs.Blocks)*fs.Bsize, resource.BinarySI),
		corev1.ResourcePods:             *resource.NewQuantity(int64(maxPods), resource.DecimalSI),
	}
	var uts syscall.Utsname
	kernel := ""
	if err := syscall.Uname(&uts); err == nil {
		kernel = utsString(uts.Release[:])
	}
	return Machine{
		Capacity:    capacity,
		Allocatable: capacity.DeepCopy(),
		Info: corev1.NodeSystemInfo{
			MachineID:       readTrimmed("/etc/machine-id"),
			SystemUUID:      readTrimmed("/sys/class/dmi/id/product_uuid"),
			BootID:          readTrimmed("/proc/sys/kernel/random/boot_id"),
			KernelVersion:   kernel,
			OSImage:         osImage("/etc/os-release"),
			OperatingSystem: runtime.GOOS,
			Architecture:    runtime.GOARCH,
		},
	}, nil
}

// memTotal is MemTotal from /proc/meminfo, in bytes.
func memTotal(path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("reading memory size: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "MemTotal:" {
			kb, err := strconv.ParseInt(fields[1], 10, 64)
			if err != nil {
				return 0, fmt.Errorf("parsing MemTotal %q: %w", fields[1], err)
			}
			return kb * 1024, nil
		}
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("reading memory size: %w", err)
	}
	return 0, fmt.Errorf("no MemTotal in %s", path)
}

func readTrimmed(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// osImage is PRETTY_NAME from os-release, as the kubelet reports it.
func osImage(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "Unknown"
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "PRETTY_NAME="); ok {
			return strings.Trim(v, `"'`)
		}
	}
	return "Unknown"
}

func utsString(b []int8) string {
	out := make([]byte, 0, len(b))
	for _, c := range b {
		if c == 0 {
			break
		}
		out = append(out, byte(c))
	}
	return string(out)
}
