// ESM entry: the same objects as the CommonJS entry (index.js).
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const headwater = require('./index.js')

export const { Producer, TestBroker, Admin, HeadwaterError, setLogger } = headwater
export default headwater
