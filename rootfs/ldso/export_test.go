package ldso

// Test helpers: the tests look objects up in a Closure with these.

// Object returns the object whose Path or one of whose Links is p, or nil.
func (c *Closure) Object(p string) *Object {
	for i := range c.Objects {
		o := &c.Objects[i]
		if o.Path == p {
			return o
		}
		for _, l := range o.Links {
			if l == p {
				return o
			}
		}
	}
	return nil
}

// Paths returns the canonical paths of all objects, sorted.
func (c *Closure) Paths() []string {
	var out []string
	for _, o := range c.Objects {
		out = append(out, o.Path)
	}
	return out
}
