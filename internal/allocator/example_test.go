package allocator_test

import (
	"fmt"
	"time"

	"github.com/mesoproject/meso/internal/allocator"
	"github.com/mesoproject/meso/internal/resources"
)

// The master owns one Allocator and drives it from its loop.
func Example() {
	a := allocator.New(allocator.Config{})
	now := time.Unix(0, 0)

	_ = a.AddAgent("a1", resources.MustParse("cpus:8;mem:16384;ports:[31000-32000]"), nil)
	_ = a.AddFramework("f1", allocator.Framework{Roles: []string{"web"}})

	offers := a.Allocate(now)
	fmt.Println(offers)

	// f1 launches a task with part of the offer and declines the rest for 10s.
	o := offers[0]
	task := resources.MustParse("cpus:1;mem:512;ports:[31000-31000]")
	_ = a.Allocated(o.Framework, o.Role, o.Agent, task)
	_ = a.Recover(o.Framework, o.Role, o.Agent, o.Resources.Subtract(task), 10*time.Second, now)
	fmt.Println(a.Allocate(now.Add(5 * time.Second)))
	fmt.Println(a.Allocate(now.Add(10 * time.Second)))

	// The task ends: its resources come back without a filter.
	_ = a.Release(o.Framework, o.Role, o.Agent, task)
	// Output:
	// [f1 a1 role=web cpus:8;mem:16384;ports:[31000-32000]]
	// []
	// [f1 a1 role=web cpus:7;mem:15872;ports:[31001-32000]]
}
