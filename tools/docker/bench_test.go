// SPDX-License-Identifier: Apache-2.0

package docker

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"

	"github.com/tailops/tailops/toolstest"
)

// BenchmarkListContainers compares list_containers (the whole handler:
// client call, conversion, JSON result) with `docker ps --format json`
// run against the same daemon, over 50 running containers. Run with
//
//	go test -run '^$' -bench ListContainers ./tools
func BenchmarkListContainers(b *testing.B) {
	k := newDockerLab(b)
	const n = 50
	ctx := context.Background()
	ids := make([]string, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	sem := make(chan struct{}, 4)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			c, err := k.cli.ContainerCreate(ctx, &container.Config{Image: busyboxRef, Cmd: []string{"sleep", "100000"},
				Labels: map[string]string{"bench": "list"}}, &container.HostConfig{Init: ptr(true)}, nil, nil, fmt.Sprintf("bench-%02d", i))
			if err == nil {
				ids[i] = c.ID
				err = k.cli.ContainerStart(ctx, c.ID, container.StartOptions{})
			}
			if err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	b.Cleanup(func() {
		list, _ := k.cli.ContainerList(ctx, container.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("label", "bench=list"))})
		var wg sync.WaitGroup
		for _, c := range list {
			wg.Add(1)
			go func() {
				defer wg.Done()
				k.cli.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true})
			}()
		}
		wg.Wait()
	})
	close(errs)
	for err := range errs {
		b.Fatalf("starting bench containers: %v", err)
	}

	b.Run("tailops", func(b *testing.B) {
		for b.Loop() {
			l := dockerOKNoSchema(b, k)
			if l < n {
				b.Fatalf("listed %d containers, want at least %d", l, n)
			}
		}
	})
	b.Run("docker_cli", func(b *testing.B) {
		for b.Loop() {
			out, err := k.d.DockerCmd("ps", "--format", "json").Output()
			if err != nil {
				b.Fatalf("docker ps: %v", err)
			}
			if l := strings.Count(string(out), "\n"); l < n {
				b.Fatalf("docker ps listed %d containers, want at least %d", l, n)
			}
		}
	})
}

// dockerOKNoSchema calls list_containers and returns how many containers
// it listed, without the test-only schema check.
func dockerOKNoSchema(b *testing.B, k *dockerLab) int {
	res := toolstest.Call(b, k.h, "list_containers", nil)
	if res.IsError {
		b.Fatalf("list_containers: %s", toolstest.Text(res))
	}
	return res.StructuredContent.(ContainerList).Count
}

func ptr[T any](v T) *T { return &v }
