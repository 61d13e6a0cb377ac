// What both charts (latest.svg, scale-sockets.svg) write the same way: escaped text and the document around the
// parts. Plain SVG 1.1 text (no fonts, scripts or external references) so GitHub renders it inside README.md.

export const escapeXml = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

export const text = (tx, ty, s, attrs = '') => `<text x="${tx}" y="${ty}" ${attrs}>${escapeXml(s)}</text>`;

export function svgDocument(width, height, parts) {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif">`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    ...parts,
    '</svg>',
    '',
  ].join('\n');
}
