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

# The container image (needs a Docker engine). IMAGE=registry/tenant-guard:tag to name it.
IMAGE ?= tenant-guard:dev
image:
	docker build -t $(IMAGE) .

# The Tenant CRD manifest from src/tenancy/tenant-schema.ts.
crd:
	npm run gen:crd
