// Exponential moving average as TensorBoard and W&B draw it: debiased, so the first points are not
// pulled towards zero. weight 0 is no smoothing; 0.99 is heavy. Non-finite points are passed through
// and do not disturb the average.

export function emaSmooth(values: ArrayLike<number | null>, weight: number): (number | null)[] {
  if (weight < 0 || weight >= 1 || Number.isNaN(weight)) throw new RangeError(`smoothing weight ${weight} is not in [0, 1)`);
  const out: (number | null)[] = new Array(values.length);
  let last = 0;
  let count = 0;
  for (let i = 0; i < values.length; i++) {
    const value = values[i];
    if (value === null || value === undefined || !Number.isFinite(value)) {
      out[i] = value ?? null;
      continue;
    }
    last = last * weight + (1 - weight) * value;
    count += 1;
    const debias = weight === 0 ? 1 : 1 - Math.pow(weight, count);
    out[i] = last / debias;
  }
  return out;
}
