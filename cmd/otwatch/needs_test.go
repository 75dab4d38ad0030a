package main

import (
	"os"
	"os/exec"
	"testing"
)

// needRoot skips a test that builds network namespaces and captures with
// AF_PACKET unless it runs as root with the tools it names installed.
func needRoot(t *testing.T, tools ...string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (network namespaces, AF_PACKET)")
	}
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s (.ci/run installs it)", tool)
		}
	}
}

// needRsyslogd returns the rsyslog daemon's path, or skips the test.
func needRsyslogd(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"rsyslogd", "/usr/sbin/rsyslogd"} {
		if full, err := exec.LookPath(p); err == nil {
			return full
		}
	}
	t.Skip("needs rsyslogd (apt-get install rsyslog)")
	return ""
}
