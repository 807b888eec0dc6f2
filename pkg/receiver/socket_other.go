//go:build !linux

package receiver

func openUDP(Protocol, uint16, int) (socket, error) { return nil, ErrUnsupported }

func openRaw(string, int, bool, int) (socket, error) { return nil, ErrUnsupported }
