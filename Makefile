# vicroot — see README.md. Every target works on a fresh Debian 12 machine
# once the packages in .ci/run are installed.

GO        ?= go
BIN       ?= bin
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
LDFLAGS   := -s -w -X main.version=$(VERSION)
FUZZTIME  ?= 10s
CACHE     ?= testdata/.cache

.PHONY: all deps build test vet bench fuzz testrepo testbin demo clean

all: build

## deps: the Debian packages the tests and the demo need (as root)
deps:
	bash .ci/deps

## build: the static vicroot binary in bin/
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/vicroot ./cmd/vicroot

## test: everything CI runs (vet, unit tests with -race, end-to-end tests)
test: vet testbin build
	CGO_ENABLED=1 $(GO) test -race -timeout 40m ./... ./testdata/tether ./testdata/unpack ./testdata/vicdaemon
	CGO_ENABLED=0 $(GO) test -run '^TestSolve300AgainstDNF$$' -timeout 20m ./resolver/

vet:
	$(GO) vet ./... ./testdata/tether ./testdata/unpack ./testdata/vicdaemon
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi

## bench: vicroot build cold and warm against VIC's pipeline, for the
## bootstrap (BenchmarkCompare, BenchmarkCompareSystemd) and the appliance
## (BenchmarkCompareAppliance; medians and ratios), the peak RSS with a
## 1 GiB file, the cost growth from 1× to 16× the bootstrap's payload
## (BenchmarkGrowth; builds testdata/mkbigrepo's repository once), then
## every package's own benchmarks once
bench: testbin build
	mkdir -p $(CACHE)
	$(GO) test -run '^$$' -bench Compare -benchtime 5x -timeout 60m ./e2e/ | tee $(CACHE)/bench.txt
	$(GO) test -run '^$$' -bench BigFile -benchtime 1x -timeout 60m ./e2e/ | tee -a $(CACHE)/bench.txt
	$(GO) test -run '^$$' -bench Growth -benchtime 3x -timeout 90m ./e2e/ | tee -a $(CACHE)/bench.txt
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 1x -timeout 60m $$($(GO) list ./... | grep -v /e2e) | tee -a $(CACHE)/bench.txt

## fuzz: a short bounded run of every fuzz target (FUZZTIME each); see .ci/fuzz
fuzz:
	bash .ci/fuzz $(FUZZTIME)

## testrepo: the signed test repository built from Debian binaries
testrepo:
	bash testdata/mkrepo $(CACHE)

## testbin: the static test tether and unpack (bin/tether-linux, bin/unpack),
## and the appliance's stand-ins: VIC's daemons (bin/vic-init,
## docker-engine-server, port-layer-server, vicadmin) and bin/vicadmin-home/
testbin:
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN)/tether-linux ./testdata/tether
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN)/unpack ./testdata/unpack
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN)/vic-init ./testdata/vicdaemon
	for n in docker-engine-server port-layer-server vicadmin; do cp $(BIN)/vic-init $(BIN)/$$n; done
	mkdir -p $(BIN)/vicadmin-home
	printf '<!doctype html><title>vicadmin</title><p>vicroot test stand-in for VIC'"'"'s vicadmin pages</p>\n' >$(BIN)/vicadmin-home/index.html

## demo: the test repository, the stand-ins, out/bootstrap-testrepo-2.0.iso and out/appliance-testrepo-2.0.iso
demo: testbin build
	@repo=$$(bash testdata/mkrepo $(CACHE) | tail -n 1) && \
	$(BIN)/vicroot build --repo $$repo/definition --out out --bin $(BIN) --cache $(CACHE)/vicroot \
	  --mirror photon=file://$$repo/photon/ --mirror photon-updates=file://$$repo/photon-updates/ \
	  --version v0.0.0-0-demo --target all && \
	echo "boot it: qemu-system-x86_64 -m 1024 -cdrom out/bootstrap-testrepo-2.0.iso (or out/appliance-testrepo-2.0.iso; the console is on ttyS1)"

clean:
	rm -rf $(BIN)
