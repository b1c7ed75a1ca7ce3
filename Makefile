# zkpot: the two commands a newcomer needs are `make demo` and `make test`.
.PHONY: demo test bench screenshots setup contracts-test clean

demo:            ## run a job end to end on embedded defaults (installs what it needs)
	@tools/bootstrap.sh
	@tools/demo.sh $(DEMO_ARGS)

test:            ## install what is missing, start what tests need, run every test, stop it all
	@tools/bootstrap.sh --test
	@tools/run-tests.sh $(TEST_ARGS)

bench:           ## measure speed, memory and gas; writes bench/results/latest.json
	@tools/bootstrap.sh
	@tools/with-env.sh python -m bench.run $(BENCH_ARGS)

screenshots:     ## refresh docs/dashboard-*.png: the browser tests with ZKPOT_SCREENSHOTS=1
	@tools/bootstrap.sh --test
	@ZKPOT_SCREENSHOTS=1 ZKPOT_TEST_CIRCUIT_DIR="$${ZKPOT_TEST_CIRCUIT_DIR:-$${ZKPOT_STATE_DIR:-.zkpot}/test-circuits}" \
	  tools/with-env.sh python -m pytest -q -p no:pytest-brownie tests/frontend $(TEST_ARGS)

setup:           ## only install the environment
	@tools/bootstrap.sh --test

clean:           ## remove runtime state (keeps the installed environment)
	rm -rf .zkpot/store .zkpot/logs build .hypothesis
