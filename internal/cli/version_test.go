package cli

import (
	"runtime/debug"
	"testing"
)

func TestVCSCommit(t *testing.T) {
	for _, tc := range []struct {
		settings []debug.BuildSetting
		want     string
	}{
		{nil, ""},
		{[]debug.BuildSetting{{Key: "vcs.revision", Value: "2bffb227aab3b1234b47a4701aed8dd9d90374e4"}, {Key: "vcs.modified", Value: "false"}}, "2bffb227aab3"},
		{[]debug.BuildSetting{{Key: "vcs.modified", Value: "true"}, {Key: "vcs.revision", Value: "2bffb227aab3b1234b47a4701aed8dd9d90374e4"}}, "2bffb227aab3-dirty"},
	} {
		if got := vcsCommit(tc.settings); got != tc.want {
			t.Errorf("vcsCommit(%v) = %q, want %q", tc.settings, got, tc.want)
		}
	}
}
