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

/** Whether a JSON value fits its column's type and format (dates round-trip exactly: no 30 February). */
function fits (type: ColumnType, value: unknown): boolean {
  switch (type) {
    case 'Int': return Number.isInteger(value) && (value as number) >= INT32_MIN && (value as number) <= INT32_MAX
    case 'BigInt': return typeof value === 'string' && BIGINT.test(value) && BigInt(value) >= -(2n ** 63n) && BigInt(value) < 2n ** 63n
    case 'Float': return typeof value === 'number' || ['NaN', 'Infinity', '-Infinity'].includes(value as string)
    case 'Decimal': return typeof value === 'string' && DECIMAL.test(value)
    case 'String': return typeof value === 'string'
    case 'Boolean': return typeof value === 'boolean'
    case 'DateTime': return typeof value === 'string' && ISO.test(value) && !Number.isNaN(Date.parse(value))
    case 'Bytes': return typeof value === 'string' && value.length % 4 === 0 && BASE64.test(value)
    case 'Json': return true
  }
}

export type RowProblemCode = 'rowNotObject' | 'rowUnknownColumn' | 'rowRequired' | 'rowType'

/** Why a row does not fit its table: a code of BackupErrorCode and the column. */
export class RowProblem extends Error {
  constructor (readonly code: RowProblemCode, readonly column: string, readonly type: string = '') { super(`${code}: column ${column || '-'}${type ? ` (${type})` : ''}`) }
}

/** A data-file JSON value → the normalized value; throws a RowProblem naming the column. */
export function decodeValue (column: ColumnSpec, value: unknown): Value {
  if (value === null) {
    if (!column.nullable) throw new RowProblem('rowRequired', column.name)
    return null
  }
  if (!fits(column.type, value)) throw new RowProblem('rowType', column.name, column.type)
  switch (column.type) {
    case 'BigInt': return BigInt(value as string)
    case 'Float': return Number(value)
    case 'DateTime': {
      // A date that does not exist (30 February, 24:00) rolls over in JavaScript: the day or month then differs.
      const date = new Date(value as string)
      const text = value as string
      if (date.getUTCDate() !== Number(text.slice(8, 10)) || date.getUTCMonth() + 1 !== Number(text.slice(5, 7)) || date.getUTCHours() !== Number(text.slice(11, 13))) {
        throw new RowProblem('rowType', column.name, column.type)
      }
      return date
    }
    case 'Bytes': return Buffer.from(value as string, 'base64')
    default: return value
  }
}

/** One parsed JSON line → the row's values in column order. Unknown keys and missing required columns are refused. */
export function decodeRow (columns: ColumnSpec[], parsed: unknown): Value[] {
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new RowProblem('rowNotObject', '')
  const row = parsed as Record<string, unknown>
  for (const key in row) {
    if (!columns.some(c => c.name === key)) throw new RowProblem('rowUnknownColumn', key.slice(0, 64))
  }
  return columns.map(column => {
    if (!Object.hasOwn(row, column.name)) {
      if (column.nullable) return null
      throw new RowProblem('rowRequired', column.name)
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
