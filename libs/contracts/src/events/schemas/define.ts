/**
 * Building blocks of the event schemas: `objectOf<T>()` makes a zod object schema that names every
 * field of the TypeScript type `T` (a field added to `T` without a schema does not compile), and
 * whose parsed value has type `T`. Unknown fields are kept, not stripped: a consumer built against
 * an older schema passes a newer producer's extra (additive) fields through to its handler.
 */
import { z } from 'zod';

/** One zod schema per field of `T`, each producing that field's type; optional fields use `.optional()`. */
export type ShapeOf<T> = { readonly [K in keyof T]-?: z.ZodType<T[K]> };

/** A loose object schema covering exactly the fields of `T`. */
export function objectOf<T>(): (shape: ShapeOf<T>) => z.ZodType<T> {
  // The shape types every field against T, which zod's inferred object type cannot express for
  // optional keys (it makes them required-with-undefined); the one cast is checked field by field.
  return (shape) => z.looseObject(shape) as unknown as z.ZodType<T>;
}

export const nonEmpty = z.string().min(1);
export const count = z.number().int().min(0);
export const positiveInt = z.number().int().min(1);
export const bytes = z.number().int().min(0);
export const isoTime = z.string().refine((s) => !Number.isNaN(Date.parse(s)), 'must be an ISO-8601 time');
/** Opaque JSON the consumer passes on without reading (explanations). */
export const opaque: z.ZodType<unknown> = z.unknown();
