package repos_test

import (
	"testing"

	"github.com/vicroot/vicroot/repos"
)

func BenchmarkLoadEmbedded(b *testing.B) {
	for b.Loop() {
		if _, err := repos.Load("photon-2.0"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseSpec(b *testing.B) {
	data := []byte(validSpec)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := repos.ParseSpec("repo-spec.json", data); err != nil {
			b.Fatal(err)
		}
	}
}
