# PAO developer commands. `make test` is what CI runs (.ci/run).
SHELL := /usr/bin/env bash
CARGO ?= cargo
CATALOG ?= examples/catalog
VENV := .venv
MOTO_VERSION := 5.2.5
CFN_LINT_VERSION := 1.58.0
SAM_CLI_VERSION := 1.170.0
SCHEMATHESIS_VERSION := 4.32.5
OPENAPI_SPEC_VALIDATOR_VERSION := 0.9.0
CARGO_LAMBDA_VERSION := 1.9.2
ARCH ?= x86_64
export SAM_CLI_TELEMETRY = 0

.PHONY: deploy-check iam-check smoke help venv machete catalog-push jira-resolve bench lint-template build debug invoke test fmt fmt-check lint unit fuzz fuzz-api fuzz-api-short release dev validate-examples clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

test: toolchain venv fmt-check lint lint-template deploy-check unit iam-check fuzz-api-short ## Everything CI checks: format, clippy, the template as AWS runs it, every test under IAM, a short schemathesis pass

toolchain:
	@command -v $(CARGO) >/dev/null || { echo "make: cargo not found: install the Rust toolchain (rustup)"; exit 1; }
	@$(CARGO) fmt --version >/dev/null 2>&1 || { echo "make: rustfmt missing: rustup component add rustfmt"; exit 1; }
	@$(CARGO) clippy --version >/dev/null 2>&1 || { echo "make: clippy missing: rustup component add clippy"; exit 1; }

fmt: ## Format the code
	$(CARGO) fmt --all

fmt-check:
	$(CARGO) fmt --all -- --check

lint: ## Clippy with warnings denied, and no module cycle in shared/src
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings
	python3 scripts/module-deps.py

venv: $(VENV)/.installed ## Python venv with moto_server (the local AWS endpoint)

$(VENV)/.installed: Makefile
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check 'moto[server]==$(MOTO_VERSION)' \
	  'cfn-lint==$(CFN_LINT_VERSION)' 'aws-sam-cli==$(SAM_CLI_VERSION)' \
	  'schemathesis==$(SCHEMATHESIS_VERSION)' 'openapi-spec-validator==$(OPENAPI_SPEC_VALIDATOR_VERSION)'
	touch $@

$(VENV)/.build-tools: $(VENV)/.installed
	$(VENV)/bin/pip install --quiet --disable-pip-version-check 'cargo-lambda==$(CARGO_LAMBDA_VERSION)'
	touch $@

lint-template: venv ## cfn-lint and sam validate --lint on template.yaml
	$(VENV)/bin/cfn-lint template.yaml
	AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 $(VENV)/bin/sam validate --lint --template template.yaml

deploy-check: venv ## template.yaml packaged and translated as sam deploy does, cfn-lint'ed and asserted on; the OpenAPI description validated
	$(VENV)/bin/python scripts/deploy_check.py check
	$(VENV)/bin/openapi-spec-validator schemas/openapi.yaml

iam-check: venv ## Every AWS call the tests recorded per function, against that function's translated role (after make unit)
	@test -s target/iam/calls.jsonl || { echo "make iam-check: no recording in target/iam/ (run make unit first)"; exit 1; }
	$(VENV)/bin/python scripts/deploy_check.py iam target/iam/calls.jsonl target/iam/keys.json

build: $(VENV)/.build-tools ## sam build (cargo-lambda): ARCH=x86_64 (default) or ARCH=arm64
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(VENV)/bin/sam build --parameter-overrides Architecture=$(ARCH)
	@ls -l .aws-sam/build/*/bootstrap

invoke: ## Feed an event to its function's handler against a local endpoint: make invoke EVENT=events/api-submit.json
	@test -n "$(EVENT)" || { echo "usage: make invoke EVENT=events/<file>.json"; exit 2; }
	scripts/with-local-aws.sh $(CARGO) run --quiet --locked -p pao-local --bin pao-invoke -- $(EVENT)

unit: venv ## Run every test against a fresh local AWS endpoint with IAM enforced, recording each function's calls (prints the total last)
	@mkdir -p target; rm -rf target/iam; set -o pipefail; PAO_IAM_RECORD=target/iam scripts/with-local-aws.sh $(CARGO) test --workspace --locked 2>&1 | tee target/test-output.log
	@awk '/^test result:/ { p += $$4; f += $$6 } END { printf "%d passed, %d failed\n", p, f }' target/test-output.log

fuzz: ## The Rust fuzz targets (fuzz/), PAO_FUZZ_SECONDS each (default 60)
	PAO_FUZZ_SECONDS=$${PAO_FUZZ_SECONDS:-60} $(CARGO) test --locked -p pao-fuzz --test targets -- --nocapture

fuzz-api: venv ## Schemathesis against a local stack of its own (PAO_FUZZ_API_EXAMPLES, PAO_FUZZ_API_SECONDS)
	$(CARGO) build --locked -p pao-local
	scripts/with-local-aws.sh scripts/fuzz-api.sh

fuzz-api-short: venv
	$(CARGO) build --locked -p pao-local
	# A fixed seed: the short pass draws the same cases every run; `make fuzz-api` explores.
	PAO_FUZZ_API_EXAMPLES=5 PAO_FUZZ_API_SECONDS=150 PAO_FUZZ_API_WORKERS=1 PAO_FUZZ_API_SEED=$${PAO_FUZZ_API_SEED:-20261125} \
	  scripts/with-local-aws.sh scripts/fuzz-api.sh

machete: ## Unused dependencies (cargo-machete, installed under .tools on first use)
	@test -x .tools/bin/cargo-machete || $(CARGO) install --quiet --locked --root .tools cargo-machete --version 0.9.2
	.tools/bin/cargo-machete

smoke: venv ## Sign with your AWS credentials, submit a request to a deployed stack and follow it: make smoke API=https://…/Prod/api/v1 [ITEM=…] [INPUT='{…}']
	@test -n "$(API)" || { echo "usage: make smoke API=https://<id>.execute-api.<region>.amazonaws.com/Prod/api/v1"; exit 2; }
	API="$(API)" ITEM="$(ITEM)" INPUT='$(INPUT)' TIMEOUT="$(TIMEOUT)" $(VENV)/bin/python scripts/smoke.py

catalog-push: ## On make dev: commit what you changed in .local/catalog-repo and deliver the signed push webhook
	$(CARGO) run --quiet --locked -p pao-local --bin pao-catalog-push -- "$${MESSAGE:-Catalog change}"

jira-resolve: ## On make dev: resolve a ticket as a person would, KEY=DBA-1 [RESOLUTION="Won't Do"] [FIELDS='{"customfield_10050": "db.example.com"}'] [COMMENT=...]
	@python3 scripts/jira-resolve.py

validate-examples: ## devctl validate on the example catalog
	$(CARGO) run --quiet --locked -p devctl -- validate $(CATALOG)

bench: venv ## Every figure beside its goal and the floor measured in the same run (release build first)
	$(CARGO) build --release --locked -p api -p worker -p sweeper -p github-webhook -p events
	$(CARGO) build --release --locked -p pao-local --bin pao-bench
	# A 10 s action timeout: under the load run moto answers in seconds, and a batch that nears
	# the invocation's end (timeout + 5 s) is handed back for the 6-minute visibility timeout.
	# IAM checking off: its signature and policy checks would be moto's cost, not PAO's.
	PAO_IAM=off RUST_LOG=$${RUST_LOG:-warn} PAO_ACTION_TIMEOUT_SECONDS=$${PAO_ACTION_TIMEOUT_SECONDS:-10} scripts/with-local-aws.sh target/release/pao-bench

debug: ## Debug build of everything
	$(CARGO) build --workspace --locked

release: ## Release binaries (what Lambda runs)
	$(CARGO) build --workspace --release --locked

dev: venv ## The local stack: AWS endpoint on :4566, API on :3000, worker, JIRA stand-in
	$(CARGO) build --locked -p pao-local
	PAO_MOTO_PORT=$${PAO_MOTO_PORT:-4566} scripts/with-local-aws.sh $(CARGO) run --quiet --locked -p pao-local

clean: ## Remove build output
	$(CARGO) clean
