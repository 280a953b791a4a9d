// Diagonal hatching as a canvas fill. Leaflet's canvas renderer assigns a path's fillColor to the context's fillStyle as
// it is, so a CanvasPattern fills a polygon with stripes: what reads as "missing" on any colour below (the planner's
// uncovered area; the regions view's grids with no working camera, on a fill of their own).

/** Stripes "/" of `colour`, `width` px wide, every `spacing` px, over `background` (transparent when none). */
export function hatch(colour: string, spacing = 10, width = 3, background?: string): CanvasPattern | string {
  const tile = document.createElement('canvas');
  tile.width = spacing;
  tile.height = spacing;
  const context = tile.getContext('2d');
  if (!context) {
    return background ?? colour;
  }
  if (background) {
    context.fillStyle = background;
    context.fillRect(0, 0, spacing, spacing);
  }
  context.strokeStyle = colour;
  context.lineWidth = width;
  context.lineCap = 'square';
  context.beginPath();
  // One stripe corner to corner, and its two halves at the opposite corners, so the tiles join without a seam.
  context.moveTo(0, spacing);
  context.lineTo(spacing, 0);
  context.moveTo(-spacing / 2, spacing / 2);
  context.lineTo(spacing / 2, -spacing / 2);
  context.moveTo(spacing / 2, spacing * 1.5);
  context.lineTo(spacing * 1.5, spacing / 2);
  context.stroke();
  return context.createPattern(tile, 'repeat') ?? background ?? colour;
}
