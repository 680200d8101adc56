package pipeline

import "log/slog"

// lookup returns the price of the first of names the price table knows.
func (p *Pipeline) lookup(names ...string) (Price, bool) {
	for _, n := range names {
		if price, ok := p.Prices[n]; ok && n != "" {
			return price, true
		}
	}
	return Price{}, false
}

// price returns the price of a call: that of the model that answered
// (which may be a dated snapshot such as gpt-4o-mini-2024-07-18), else that
// of the model asked for. A model in neither costs 0, with a warning logged
// once per model name, so a missing price never stops a task.
func (p *Pipeline) price(requested, answered string) Price {
	price, ok := p.lookup(answered, requested)
	if !ok {
		if _, warned := p.unpriced.LoadOrStore(answered, true); !warned {
			p.logger().Warn("model has no price; its calls cost 0 in the ledger until one is configured",
				"model", answered, "requested_model", requested)
		}
	}
	return price
}

func (p *Pipeline) logger() *slog.Logger {
	if p.Logger == nil {
		return slog.Default()
	}
	return p.Logger
}
