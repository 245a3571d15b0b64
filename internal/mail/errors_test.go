package mail

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"syscall"
	"testing"
)

func TestIsTemporary(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"451 reply", &textproto.Error{Code: 451, Msg: "try later"}, true},
		{"421 reply, wrapped", fmt.Errorf("x: %w", &textproto.Error{Code: 421, Msg: "closing"}), true},
		{"550 reply", &textproto.Error{Code: 550, Msg: "no such user"}, false},
		{"connection refused", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}, true},
		{"connection reset", fmt.Errorf("write: %w", syscall.ECONNRESET), true},
		{"EOF", fmt.Errorf("read: %w", io.EOF), true},
		{"deadline", context.DeadlineExceeded, true},
		{"cancelled", fmt.Errorf("send: %w", context.Canceled), true},
		{"unknown", errors.New("something else"), false},
		{"delivery error, temporary", &DeliveryError{To: "a@x.example", Temporary: true, Err: errors.New("x")}, true},
		{"delivery error, permanent", &DeliveryError{To: "a@x.example", Code: 451, Err: errors.New("x")}, false},
	}
	for _, tt := range tests {
		if got := IsTemporary(tt.err); got != tt.want {
			t.Errorf("IsTemporary(%s: %v) = %v, want %v", tt.name, tt.err, got, tt.want)
		}
	}
}
