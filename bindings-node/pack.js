'use strict'
// `make build`'s last step: the npm tarballs of the layout napi-rs projects publish, written to the
// folder given (`node pack.js <dir>`):
// - one per folder of npm/ (`napi create-npm-dirs` writes its package.json with `os`/`cpu`/`libc`;
//   `napi artifacts` has copied the binary in): the native binary alone;
// - the main package `headwater` (index.js, index.mjs, index.d.ts, README; no binary), whose
//   package.json gains an exact `optionalDependencies` entry for each platform package, as
//   `napi pre-publish` adds them right before publishing. The committed package.json has none, so a
//   checkout's `npm ci` does not look for the platform packages in the registry.
const { execFileSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

const outDir = process.argv[2]
if (!outDir) throw new Error('usage: node pack.js <output dir>')
fs.rmSync(outDir, { recursive: true, force: true })
fs.mkdirSync(outDir, { recursive: true })

function pack(dir) {
  const [{ filename }] = JSON.parse(
    execFileSync('npm', ['pack', '--json', '--pack-destination', outDir, dir], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    }),
  )
  console.log(path.join(outDir, filename))
}

const main = JSON.parse(fs.readFileSync(path.join(__dirname, 'package.json'), 'utf8'))
const optionalDependencies = {}
const npmDir = path.join(__dirname, 'npm')
for (const platform of fs.readdirSync(npmDir).sort()) {
  const dir = path.join(npmDir, platform)
  const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'))
  if (pkg.version !== main.version) {
    throw new Error(`${pkg.name} is ${pkg.version}, headwater ${main.version}: run \`make -C bindings-node build\``)
  }
  if (!fs.existsSync(path.join(dir, pkg.main))) throw new Error(`${dir} has no ${pkg.main}`)
  pack(dir)
  optionalDependencies[pkg.name] = pkg.version
}

const stage = fs.mkdtempSync(path.join(outDir, 'stage-'))
for (const file of main.files) fs.copyFileSync(path.join(__dirname, file), path.join(stage, file))
fs.writeFileSync(path.join(stage, 'package.json'), `${JSON.stringify({ ...main, optionalDependencies }, null, 2)}\n`)
pack(stage)
fs.rmSync(stage, { recursive: true })
