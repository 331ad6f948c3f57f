// Package toxics holds Domino's own toxics, one file per toxic. Each registers
// itself with Toxiproxy (toxics.Register in init) under a "domino_" name, so the
// stock admin API, toxiproxy-cli and toxiproxy-python add, list and remove them
// like any toxic. Domino learns which of them a running server has from its
// version (harness/toxiproxy/abilities.py).
package toxics

import "github.com/Shopify/toxiproxy/v2/toxics"

// drain reads and drops what is still sent to a stub that has closed, until its
// input closes: the toxic before it in the chain, and the goroutine reading the
// socket behind that, would otherwise block forever on a send no one receives.
func drain(stub *toxics.ToxicStub) {
	for range stub.Input {
	}
}
