package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

func TestVersion(t *testing.T) {
	cmd := newRootCmd()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetArgs([]string{"version"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "meso ") {
		t.Fatalf("version output %q", out.String())
	}
}

func TestBindEnv(t *testing.T) {
	var workDir, ip string
	var port int
	cmd := &cobra.Command{Use: "x", RunE: func(cmd *cobra.Command, _ []string) error { return bindEnv(cmd) }}
	cmd.Flags().StringVar(&workDir, "work_dir", "", "")
	cmd.Flags().StringVar(&ip, "ip", "", "")
	cmd.Flags().IntVar(&port, "port", 5050, "")
	t.Setenv("MESOS_WORK_DIR", "/from/mesos")
	t.Setenv("MESO_WORK_DIR", "/from/meso")
	t.Setenv("MESOS_IP", "10.1.2.3")
	t.Setenv("MESOS_PORT", "6060")
	cmd.SetArgs([]string{"--ip", "127.0.0.1"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if workDir != "/from/meso" || ip != "127.0.0.1" || port != 6060 {
		t.Fatalf("got work_dir=%q ip=%q port=%d", workDir, ip, port)
	}

	t.Setenv("MESOS_PORT", "not-a-number")
	bad := &cobra.Command{Use: "y", RunE: func(cmd *cobra.Command, _ []string) error { return bindEnv(cmd) }}
	bad.Flags().IntVar(&port, "port", 5050, "")
	bad.SetArgs(nil)
	if err := bad.Execute(); err == nil || !strings.Contains(err.Error(), "MESOS_PORT") {
		t.Fatalf("want an error naming MESOS_PORT, got %v", err)
	}
}
