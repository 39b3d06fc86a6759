package static

// BuiltinTypes returns a fresh copy of the default extension table: the common entries of nginx's mime.types, with
// the same values, so that a site moved from nginx keeps its Content-Types.
func BuiltinTypes() map[string]string {
	return map[string]string{
		".html": "text/html", ".htm": "text/html", ".shtml": "text/html",
		".css": "text/css", ".xml": "text/xml", ".txt": "text/plain",
		".js": "application/javascript", ".mjs": "application/javascript", ".json": "application/json",
		".gif": "image/gif", ".jpeg": "image/jpeg", ".jpg": "image/jpeg", ".png": "image/png",
		".svg": "image/svg+xml", ".svgz": "image/svg+xml", ".ico": "image/x-icon", ".webp": "image/webp",
		".avif": "image/avif", ".bmp": "image/x-ms-bmp", ".tif": "image/tiff", ".tiff": "image/tiff",
		".woff": "font/woff", ".woff2": "font/woff2",
		".pdf": "application/pdf", ".zip": "application/zip", ".gz": "application/gzip", ".tar": "application/x-tar",
		".wasm": "application/wasm", ".rss": "application/rss+xml", ".atom": "application/atom+xml",
		".mp3": "audio/mpeg", ".ogg": "audio/ogg", ".m4a": "audio/x-m4a",
		".mp4": "video/mp4", ".webm": "video/webm", ".mpeg": "video/mpeg", ".mpg": "video/mpeg",
		".bin": "application/octet-stream", ".exe": "application/octet-stream",
	}
}
