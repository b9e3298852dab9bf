# Thin wrappers over the npm scripts (the npm scripts are the source of truth).
.PHONY: install generate check-generated typecheck build test bench run

install:
	npm ci

generate:
	npm run --silent generate

check-generated:
	npm run --silent check-generated

typecheck:
	npm run --silent typecheck

build:
	npm run --silent build

test:
	npm test

bench:
	npm run --silent bench

run:
	npm start
