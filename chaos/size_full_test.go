//go:build chaos

package chaos

// full selects the full sizes of every scenario: `make chaos`.
const full = true
