'use strict'
// Shared by the tests: the package under test is the one installed from the packed tarball into
// HEADWATER_PROJECT (make test); without it, the working copy (../).
const path = require('node:path')
const fs = require('node:fs')

const REPO = process.env.HEADWATER_REPO || path.resolve(__dirname, '..', '..')
const PROJECT = process.env.HEADWATER_PROJECT || null
const PKG = PROJECT ? path.join(PROJECT, 'node_modules', 'headwater') : path.resolve(__dirname, '..')
const hw = require(PKG)

function vectors(name) {
  return JSON.parse(fs.readFileSync(path.join(REPO, 'tests', 'vectors', name), 'utf8'))
}

let seq = 0
/** A fresh topic name per test. */
function topicName(prefix = 't') {
  seq += 1
  return `${prefix}-${process.pid}-${seq}`
}

module.exports = { hw, REPO, PROJECT, PKG, vectors, topicName }
