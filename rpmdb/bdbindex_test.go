package rpmdb

// ReadBDBIndex is the tests' reader of the index files Write makes (rpm
// itself reads them in the oracle tests; this one checks their content).

// ReadBDBIndex reads a Berkeley DB index file: each key with its
// (header number, tag index) pairs.
func ReadBDBIndex(name string, data []byte) (map[string][][2]uint32, error) {
	r, err := openBDB(name, data)
	if err != nil {
		return nil, err
	}
	recs, err := r.all()
	if err != nil {
		return nil, err
	}
	out := map[string][][2]uint32{}
	for _, rec := range recs {
		if len(rec.v)%8 != 0 {
			return nil, r.errf("key %q: value of %d bytes, not (header, index) pairs", rec.k, len(rec.v))
		}
		for i := 0; i < len(rec.v); i += 8 {
			out[string(rec.k)] = append(out[string(rec.k)], [2]uint32{r.ord.Uint32(rec.v[i:]), r.ord.Uint32(rec.v[i+4:])})
		}
	}
	return out, nil
}
