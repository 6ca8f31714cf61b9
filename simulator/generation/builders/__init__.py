"""Context builders: the consistent values one event's template renders, one module per
event group. `spec` holds what the caller asked for; `envelope` the values every envelope
shares."""
