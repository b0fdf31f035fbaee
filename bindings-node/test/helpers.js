'use strict'
// Shared by the tests: the package under test is the one installed from the packed tarballs into
// HEADWATER_PROJECT (make test); without it, the working copy (../).
const path = require('node:path')
const fs = require('node:fs')

const REPO = process.env.HEADWATER_REPO || path.resolve(__dirname, '..', '..')
const PROJECT = process.env.HEADWATER_PROJECT || null
const PKG = PROJECT ? path.join(PROJECT, 'node_modules', 'headwater') : path.resolve(__dirname, '..')
const hw = require(PKG)
// The addon file index.js loaded: the platform package's binary when installed, the local build in a checkout.
const NATIVE = Object.keys(require.cache).find((f) => f.endsWith('.node'))

function vectors(name) {
  return JSON.parse(fs.readFileSync(path.join(REPO, 'tests', 'vectors', name), 'utf8'))
}

let seq = 0
/** A fresh topic name per test. */
function topicName(prefix = 't') {
  seq += 1
  return `${prefix}-${process.pid}-${seq}`
}

module.exports = { hw, REPO, PROJECT, PKG, NATIVE, vectors, topicName }
