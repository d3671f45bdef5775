package rdd

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"

	"github.com/mesoproject/meso/api/rddpb"
)

// A task can reach an executor before its pipeline (a report's answer
// carrying the task is read while the poll's answer carrying the pipeline
// still is): the task waits for the pipeline instead of failing with
// "unknown pipeline" (TestOperationMatrixOnCluster failed so, 1 run in 5
// under -race).
func TestTaskWaitsForItsPipeline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := &executor{pipelines: map[int64]*rebuiltStage{}}
		type got struct {
			st  *rebuiltStage
			err error
		}
		done := make(chan got, 1)
		go func() {
			st, err := e.pipeline(context.Background(), 7)
			done <- got{st, err}
		}()
		synctest.Wait()
		select {
		case g := <-done:
			t.Fatalf("returned before the pipeline was added: %+v", g)
		default:
		}
		e.addPipeline(&rddpb.Pipeline{Id: 8, Name: "other"})
		synctest.Wait()
		select {
		case g := <-done:
			t.Fatalf("returned on another pipeline's arrival: %+v", g)
		default:
		}
		e.addPipeline(&rddpb.Pipeline{Id: 7, Name: "stage 7"})
		g := <-done
		if g.err != nil || g.st == nil || g.st.p.Name != "stage 7" {
			t.Fatalf("got %+v", g)
		}
	})
}

func TestPipelineWaitEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := &executor{pipelines: map[int64]*rebuiltStage{}}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := e.pipeline(ctx, 1); !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled: %v", err)
		}
		// Never sent: a clear error once the bound passes (the bubble's
		// clock advances when every goroutine waits).
		if _, err := e.pipeline(context.Background(), 2); err == nil {
			t.Fatal("no error for a pipeline that never came")
		}
	})
}
