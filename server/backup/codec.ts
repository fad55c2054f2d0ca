// Values in the backup format (JSON, engine-neutral) ⇄ the normalized JavaScript values the engine adapters read
// and write: Int/Float number, BigInt bigint, Decimal string, DateTime Date, Bytes Buffer, Json any, String string.
import type { ColumnSpec, ColumnType } from './schema.ts'

export type Value = number | bigint | string | boolean | Date | Buffer | null | unknown

const DECIMAL = /^-?\d+(\.\d+)?([eE][-+]?\d+)?$/
const BIGINT = /^-?\d{1,20}$/
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/
const INT32_MIN = -(2 ** 31)
const INT32_MAX = 2 ** 31 - 1

/** A normalized value → its JSON form in a data file. */
export function encodeValue (type: ColumnType, value: Value): unknown {
  if (value === null || value === undefined) return null
  switch (type) {
    case 'BigInt': return String(value)
    case 'Decimal': return String(value)
    case 'Float': return Number.isFinite(value as number) ? value : String(value) // NaN and ±Infinity are not JSON
    case 'DateTime': return (value as Date).toISOString()
    case 'Bytes': return (value as Buffer).toString('base64')
    default: return value
  }
}

/** Why a JSON value does not fit its column, or null when it does. */
function problem (type: ColumnType, value: unknown): string | null {
  switch (type) {
    case 'Int': return Number.isInteger(value) && (value as number) >= INT32_MIN && (value as number) <= INT32_MAX ? null : 'a 32-bit integer'
    case 'BigInt': return typeof value === 'string' && BIGINT.test(value) && BigInt(value) >= -(2n ** 63n) && BigInt(value) < 2n ** 63n ? null : 'a 64-bit integer as a string'
    case 'Float': return typeof value === 'number' || ['NaN', 'Infinity', '-Infinity'].includes(value as string) ? null : 'a number'
    case 'Decimal': return typeof value === 'string' && DECIMAL.test(value) ? null : 'a decimal as a string'
    case 'String': return typeof value === 'string' ? null : 'a string'
    case 'Boolean': return typeof value === 'boolean' ? null : 'true or false'
    case 'DateTime': return typeof value === 'string' && ISO.test(value) && !Number.isNaN(Date.parse(value)) ? null : 'an ISO-8601 UTC date with milliseconds'
    case 'Bytes': return typeof value === 'string' && value.length % 4 === 0 && BASE64.test(value) ? null : 'base64 bytes'
    case 'Json': return null
  }
}

/** A data-file JSON value → the normalized value; throws a RowProblem naming the column. */
export function decodeValue (column: ColumnSpec, value: unknown): Value {
  if (value === null) {
    if (!column.nullable && column.type !== 'Json') throw new RowProblem(column.name, 'a value (the column is required)')
    return null
  }
  const expected = problem(column.type, value)
  if (expected !== null) throw new RowProblem(column.name, expected)
  switch (column.type) {
    case 'BigInt': return BigInt(value as string)
    case 'Float': return Number(value)
    case 'DateTime': return new Date(value as string)
    case 'Bytes': return Buffer.from(value as string, 'base64')
    default: return value
  }
}

export class RowProblem extends Error {
  constructor (readonly column: string, readonly expected: string) { super(`column ${column}: expected ${expected}`) }
}

/** One parsed JSON line → the row's values in column order. Unknown keys and missing required columns are refused. */
export function decodeRow (columns: ColumnSpec[], parsed: unknown): Value[] {
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new RowProblem('', 'a JSON object per line')
  const row = parsed as Record<string, unknown>
  for (const key of Object.keys(row)) {
    if (!columns.some(c => c.name === key)) throw new RowProblem(key, 'no such column in this table')
  }
  return columns.map(column => {
    if (!Object.hasOwn(row, column.name)) {
      if (column.nullable) return null
      throw new RowProblem(column.name, 'a value (the column is required)')
    }
    return decodeValue(column, row[column.name])
  })
}

/** A row's normalized values → its JSON line (with the newline). */
export function encodeRow (columns: ColumnSpec[], values: Value[]): string {
  const row: Record<string, unknown> = {}
  columns.forEach((column, i) => { row[column.name] = encodeValue(column.type, values[i]) })
  return JSON.stringify(row) + '\n'
}
