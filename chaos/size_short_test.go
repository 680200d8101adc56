//go:build !chaos

package chaos

// full is false in `make test`: the short sizes of every scenario.
const full = false
