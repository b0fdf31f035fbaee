'use strict'
// The npm packages `make build` packs (napi-rs's layout): what each tarball holds, the README's install
// into a new project (offline: the main package's optional dependency is met by the platform tarball)
// and its quickstart run there, and the loader's one error when no binary fits the platform.
const { describe, it, before, after } = require('node:test')
const assert = require('node:assert/strict')
const { spawnSync, execFileSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { REPO } = require('./helpers')

const PACKAGES = process.env.HEADWATER_PACKAGES || path.join(REPO, 'target', 'node-packages')
const HERE = path.resolve(__dirname, '..')
const { version } = require('../package.json')
const PLATFORM = require('../npm/linux-x64-gnu/package.json')
const MAIN_TGZ = path.join(PACKAGES, `headwater-${version}.tgz`)
const PLATFORM_TGZ = path.join(PACKAGES, `${PLATFORM.name}-${version}.tgz`)
const README = fs.readFileSync(path.join(HERE, 'README.md'), 'utf8')
const DEADLINE_MS = 120000
// `make test` names the tarballs' folder and they must be there; a plain `node --test` in a checkout
// skips these tests until `make build` has packed them.
const UNPACKED =
  !process.env.HEADWATER_PACKAGES && !(fs.existsSync(MAIN_TGZ) && fs.existsSync(PLATFORM_TGZ))
    ? `no tarballs in ${PACKAGES}: run \`make -C bindings-node build\``
    : false

function files(tgz) {
  return execFileSync('tar', ['-tzf', tgz], { encoding: 'utf8' }).split('\n').filter(Boolean).sort()
}

function manifest(tgz) {
  return JSON.parse(execFileSync('tar', ['-xzOf', tgz, 'package/package.json'], { encoding: 'utf8' }))
}

/** Runs `source` with node in `cwd`, without NODE_PATH (only the folders' own node_modules count). */
function runNode(source, cwd) {
  const env = { ...process.env }
  delete env.NODE_PATH
  return spawnSync(process.execPath, ['-e', source], { cwd, encoding: 'utf8', timeout: DEADLINE_MS, env })
}

const TRY_LOAD = "try { require('./package'); console.log('loaded') } catch (e) { console.log(e.message); process.exit(3) }"

function show(r) {
  return `status=${r.status} signal=${r.signal} error=${r.error}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`
}

/** The first fenced block of `lang` in bindings-node/README.md (the root README repeats it). */
function readmeBlock(lang) {
  const m = README.match(new RegExp('```' + lang + '\\n([\\s\\S]*?)```'))
  assert.ok(m, `README has a ${lang} block`)
  return m[1]
}

let tmp
before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hw-package-'))
})
after(() => {
  fs.rmSync(tmp, { recursive: true, force: true })
})

describe('tarballs', { skip: UNPACKED }, () => {
  it('the main package holds the JavaScript, the types and the README, and no binary', () => {
    assert.deepEqual(files(MAIN_TGZ), [
      'package/README.md',
      'package/index.d.ts',
      'package/index.js',
      'package/index.mjs',
      'package/package.json',
    ])
    const pkg = manifest(MAIN_TGZ)
    assert.equal(pkg.name, 'headwater')
    assert.deepEqual(pkg.optionalDependencies, { 'headwater-linux-x64-gnu': version })
    // It installs everywhere; the loader says what is missing where no platform package fits.
    assert.equal(pkg.os, undefined)
    assert.equal(pkg.cpu, undefined)
  })

  it('the platform package holds the binary alone, for linux x64 glibc only', () => {
    assert.deepEqual(files(PLATFORM_TGZ), [
      'package/README.md',
      'package/headwater.linux-x64-gnu.node',
      'package/package.json',
    ])
    const pkg = manifest(PLATFORM_TGZ)
    assert.equal(pkg.name, 'headwater-linux-x64-gnu')
    assert.equal(pkg.version, version)
    assert.equal(pkg.main, 'headwater.linux-x64-gnu.node')
    assert.deepEqual([pkg.os, pkg.cpu, pkg.libc], [['linux'], ['x64'], ['glibc']])
  })
})

describe('installed from the tarballs', { skip: UNPACKED }, () => {
  let project

  before(() => {
    // The README's install, from the repository root; its `mktemp -d` project lands in our TMPDIR.
    const tmpdir = fs.mkdtempSync(path.join(tmp, 'install-'))
    const r = spawnSync('bash', ['-euo', 'pipefail', '-c', readmeBlock('bash')], {
      cwd: REPO,
      encoding: 'utf8',
      timeout: DEADLINE_MS,
      env: { ...process.env, TMPDIR: tmpdir },
    })
    assert.equal(r.status, 0, show(r))
    assert.match(r.stdout, new RegExp(`headwater@${version}`))
    assert.match(r.stdout, new RegExp(`headwater-linux-x64-gnu@${version}`))
    const [dir, ...others] = fs.readdirSync(tmpdir)
    assert.deepEqual(others, [], 'the snippet made one project')
    project = path.join(tmpdir, dir)
  })

  function runInProject(source, { preload } = {}) {
    const file = path.join(project, 'main.js')
    fs.writeFileSync(file, source)
    const args = preload ? ['--require', preload, file] : [file]
    const env = { ...process.env }
    delete env.NODE_PATH
    return spawnSync(process.execPath, args, { cwd: project, encoding: 'utf8', timeout: DEADLINE_MS, env })
  }

  it('the binary is only in the platform package, the one copy the main package uses', () => {
    const nm = path.join(project, 'node_modules')
    assert.deepEqual(
      fs.readdirSync(path.join(nm, 'headwater')).filter((f) => f.endsWith('.node')),
      [],
    )
    assert.equal(fs.existsSync(path.join(nm, 'headwater', 'node_modules')), false)
    assert.deepEqual(fs.readdirSync(path.join(nm, 'headwater-linux-x64-gnu')).sort(), [
      'README.md',
      'headwater.linux-x64-gnu.node',
      'package.json',
    ])
    const r = runInProject(
      "require('headwater'); console.log(JSON.stringify(Object.keys(require.cache).filter((f) => f.endsWith('.node'))))",
    )
    assert.equal(r.status, 0, show(r))
    const binary = fs.realpathSync(path.join(nm, 'headwater-linux-x64-gnu', 'headwater.linux-x64-gnu.node'))
    assert.deepEqual(JSON.parse(r.stdout), [binary])
  })

  it("the README's quickstart runs there as written and reads its records back", () => {
    const r = runInProject(readmeBlock('js'))
    assert.equal(r.status, 0, show(r))
    assert.match(r.stdout, /topic: 'events'/)
    // broker.records(...) of the partition 'user-1' went to: 'clicked' is there.
    assert.match(r.stdout, /\[[^\]]*'clicked'[^\]]*\]/)
  })

  /** Loads headwater in the project with process.platform/arch (and the process report, for the C
   * library) made to say another machine, and returns the one error's message. */
  function loadAs({ platform, arch, musl = false }) {
    const preload = path.join(project, 'pretend.js')
    fs.writeFileSync(
      preload,
      `Object.defineProperty(process, 'platform', { value: ${JSON.stringify(platform)} })
       Object.defineProperty(process, 'arch', { value: ${JSON.stringify(arch)} })
       if (${musl}) {
         Object.defineProperty(process, 'report', {
           value: { getReport: () => ({ header: {}, sharedObjects: ['/lib/ld-musl-x86_64.so.1'] }) },
         })
       }`,
    )
    const r = runInProject(
      "try { require('headwater'); console.log('loaded') } catch (e) { console.log(e.message); process.exit(3) }",
      { preload },
    )
    assert.equal(r.status, 3, show(r))
    assert.doesNotMatch(r.stdout, /Cannot find module/)
    return r.stdout
  }

  it('on a platform no package fits, loading fails naming the platform and the package looked for', () => {
    const darwin = loadAs({ platform: 'darwin', arch: 'arm64' })
    assert.match(darwin, /no native binary for darwin-arm64 \(platform darwin, arch arm64\)/)
    assert.match(darwin, /the package headwater-darwin-arm64 is installed/)
    assert.match(darwin, new RegExp(`headwater ${version} ships native binaries for linux-x64-gnu only`))

    const arm = loadAs({ platform: 'linux', arch: 'arm64' })
    assert.match(arm, /no native binary for linux-arm64-gnu \(platform linux, arch arm64, libc glibc\)/)
    assert.match(arm, /headwater-linux-arm64-gnu/)

    const musl = loadAs({ platform: 'linux', arch: 'x64', musl: true })
    assert.match(musl, /no native binary for linux-x64-musl \(platform linux, arch x64, libc musl\)/)
    assert.match(musl, /headwater-linux-x64-musl/)
  })
})

it('without its platform package, loading fails naming the optional dependency to install', { skip: UNPACKED }, () => {
  // The main package alone, as npm leaves it with --omit=optional.
  const dir = fs.mkdtempSync(path.join(tmp, 'main-only-'))
  execFileSync('tar', ['-xzf', MAIN_TGZ, '-C', dir])
  const r = runNode(TRY_LOAD, dir)
  assert.equal(r.status, 3, show(r))
  assert.match(r.stdout, /no native binary for linux-x64-gnu \(platform linux, arch x64, libc glibc\)/)
  assert.match(r.stdout, /headwater-linux-x64-gnu is an optional dependency of headwater/)
  assert.doesNotMatch(r.stdout, /Cannot find module/)
})

it('a checkout without a build of the addon says to build it', () => {
  // index.js and package.json as in the repository (no optionalDependencies), no .node file beside them.
  const dir = path.join(fs.mkdtempSync(path.join(tmp, 'checkout-')), 'package')
  fs.mkdirSync(dir)
  for (const f of ['index.js', 'package.json']) fs.copyFileSync(path.join(HERE, f), path.join(dir, f))
  const r = runNode(TRY_LOAD, path.dirname(dir))
  assert.equal(r.status, 3, show(r))
  assert.match(r.stdout, /no native binary for linux-x64-gnu \(platform linux, arch x64, libc glibc\)/)
  assert.match(r.stdout, /this checkout has no build of the addon: run `make -C bindings-node build`/)
})
