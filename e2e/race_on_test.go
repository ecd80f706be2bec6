//go:build unix && race

package e2e

// raceEnabled: the test binary runs under -race, so the binaries under test are built
// with -race too, and a data race in the daemon fails the run.
const raceEnabled = true
