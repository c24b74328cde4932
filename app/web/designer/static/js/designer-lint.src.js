/* Entry of the one bundle built at set-up (scripts/setup runs esbuild on it after `npm ci`; the
 * output goes to node_modules/.build/bpmnlint.js, never committed, served as /vendor/bpmnlint.js):
 * bpmnlint's Linter with its own rules and its "recommended" config, resolved statically.
 *
 *   window.BpmnLint.lint(definitions) → Promise<[{id, rule, message, category}]>
 *
 * ``definitions`` is the moddle root of a diagram (``modeler.getDefinitions()``).
 */
import { Linter } from 'bpmnlint';
import StaticResolver from 'bpmnlint/lib/resolver/static-resolver';
import recommended from 'bpmnlint/config/recommended';
import all from 'bpmnlint/config/all';
import correctness from 'bpmnlint/config/correctness';

// every rule of bpmnlint 11
import rule0 from 'bpmnlint/rules/ad-hoc-sub-process';
import rule1 from 'bpmnlint/rules/conditional-event';
import rule2 from 'bpmnlint/rules/conditional-flows';
import rule3 from 'bpmnlint/rules/end-event-required';
import rule4 from 'bpmnlint/rules/event-based-gateway';
import rule5 from 'bpmnlint/rules/event-sub-process-typed-start-event';
import rule6 from 'bpmnlint/rules/fake-join';
import rule7 from 'bpmnlint/rules/global';
import rule8 from 'bpmnlint/rules/label-required';
import rule9 from 'bpmnlint/rules/link-event';
import rule10 from 'bpmnlint/rules/no-bpmndi';
import rule11 from 'bpmnlint/rules/no-complex-gateway';
import rule12 from 'bpmnlint/rules/no-disconnected';
import rule13 from 'bpmnlint/rules/no-duplicate-sequence-flows';
import rule14 from 'bpmnlint/rules/no-gateway-join-fork';
import rule15 from 'bpmnlint/rules/no-implicit-end';
import rule16 from 'bpmnlint/rules/no-implicit-split';
import rule17 from 'bpmnlint/rules/no-implicit-start';
import rule18 from 'bpmnlint/rules/no-inclusive-gateway';
import rule19 from 'bpmnlint/rules/no-overlapping-elements';
import rule20 from 'bpmnlint/rules/single-blank-start-event';
import rule21 from 'bpmnlint/rules/single-event-definition';
import rule22 from 'bpmnlint/rules/standard-size';
import rule23 from 'bpmnlint/rules/start-event-required';
import rule24 from 'bpmnlint/rules/sub-process-blank-start-event';
import rule25 from 'bpmnlint/rules/superfluous-gateway';
import rule26 from 'bpmnlint/rules/superfluous-label';
import rule27 from 'bpmnlint/rules/superfluous-termination';

const RULES = {
  'ad-hoc-sub-process': rule0,
  'conditional-event': rule1,
  'conditional-flows': rule2,
  'end-event-required': rule3,
  'event-based-gateway': rule4,
  'event-sub-process-typed-start-event': rule5,
  'fake-join': rule6,
  'global': rule7,
  'label-required': rule8,
  'link-event': rule9,
  'no-bpmndi': rule10,
  'no-complex-gateway': rule11,
  'no-disconnected': rule12,
  'no-duplicate-sequence-flows': rule13,
  'no-gateway-join-fork': rule14,
  'no-implicit-end': rule15,
  'no-implicit-split': rule16,
  'no-implicit-start': rule17,
  'no-inclusive-gateway': rule18,
  'no-overlapping-elements': rule19,
  'single-blank-start-event': rule20,
  'single-event-definition': rule21,
  'standard-size': rule22,
  'start-event-required': rule23,
  'sub-process-blank-start-event': rule24,
  'superfluous-gateway': rule25,
  'superfluous-label': rule26,
  'superfluous-termination': rule27
};

const cache = {
  'config:bpmnlint/recommended': recommended,
  'config:bpmnlint/all': all,
  'config:bpmnlint/correctness': correctness
};
Object.keys(RULES).forEach(function (name) {
  cache['rule:bpmnlint/' + name] = RULES[name];
});

// our dialect: inclusive gateways are supported (SpiffWorkflow runs them)
const CONFIG = {
  extends: 'bpmnlint:recommended',
  rules: { 'no-inclusive-gateway': 'off' }
};

function lint(definitions) {
  // a fresh linter each time: rules keep state in their closures (bpmnlint caches rule instances)
  const linter = new Linter({ resolver: new StaticResolver(cache), config: CONFIG });
  return linter.lint(definitions, CONFIG).then(function (results) {
    const out = [];
    Object.keys(results).forEach(function (rule) {
      results[rule].forEach(function (report) {
        out.push({ id: report.id || null, rule: rule, message: report.message,
                   category: report.category || 'warn' });
      });
    });
    return out;
  });
}

window.BpmnLint = { lint: lint, config: CONFIG };
