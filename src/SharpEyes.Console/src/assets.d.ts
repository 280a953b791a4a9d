// esbuild's file loader: importing one of these gives the URL of the copied, content-named file.
declare module '*.geojson' {
  const url: string;
  export default url;
}

// Style sheets imported for their side effect: esbuild bundles them into the page's one CSS file.
declare module '*.css';
