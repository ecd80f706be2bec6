//go:build !linux

package testkeyring

import "os/exec"

func setParentDeathSignal(*exec.Cmd) {}
