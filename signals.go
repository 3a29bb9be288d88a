package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"
)

// interrupts cancels a run on SIGINT or SIGTERM and remembers which signal
// came. After the first signal the default action is restored, so a second
// one ends the process at once (without the clean-up of the first).
type interrupts struct {
	sig  atomic.Pointer[os.Signal]
	stop func()
}

func notifyInterrupts(parent context.Context) (context.Context, *interrupts) {
	ctx, cancel := context.WithCancel(parent)
	in := &interrupts{}
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case s := <-ch:
			in.sig.Store(&s)
			signal.Reset(os.Interrupt, syscall.SIGTERM)
			cancel()
		case <-done:
		}
	}()
	in.stop = func() {
		signal.Stop(ch)
		close(done)
		cancel()
	}
	return ctx, in
}

// signal returns the signal that interrupted the run, or nil.
func (in *interrupts) signal() os.Signal {
	if s := in.sig.Load(); s != nil {
		return *s
	}
	return nil
}

// exitCode is the shell's convention for a process ended by a signal,
// 128 + the signal number: 130 for SIGINT, 143 for SIGTERM.
func (in *interrupts) exitCode() int {
	if s, ok := in.signal().(syscall.Signal); ok {
		return 128 + int(s)
	}
	return 130
}

// reportInterrupt says which signal stopped the run, how many modules
// finished and which did not.
func reportInterrupt(stderr io.Writer, in *interrupts, total int, unfinished []string) {
	const show = 10
	list := strings.Join(unfinished[:min(len(unfinished), show)], ", ")
	if len(unfinished) > show {
		list += fmt.Sprintf(" and %d more", len(unfinished)-show)
	}
	name := "SIGINT"
	if in.signal() == syscall.SIGTERM {
		name = "SIGTERM"
	}
	fmt.Fprintf(stderr, "gomodfetch: interrupted by %s: %d of %d modules finished", name, total-len(unfinished), total)
	if len(unfinished) > 0 {
		fmt.Fprintf(stderr, "; not finished: %s", list)
	}
	fmt.Fprintln(stderr)
}
