//go:build !linux

package listener

func openUDP(Protocol, uint16, int) (receiver, error) { return nil, ErrUnsupported }

func openRaw(string, int, bool, int) (receiver, error) { return nil, ErrUnsupported }
