# Convenience targets; npm scripts are the source of truth.
.PHONY: build test bench plugin image crd

build:
	npm run build

test:
	npm test

bench:
	npm run bench

plugin:
	npm run build:plugin
