# enc_same.rb SCRIPT_DOC RENDERED_DOC ROLE: exit 0 when firebreak's
# rendered ENC document means to Puppet what the imported script said
# (Ruby's YAML is what Puppet reads it with).  Classes compare as sets
# (an ENC's class order means nothing to Puppet); a document without an
# environment is in production; firebreak adds the parameter `role`
# (ROLE) where the script had none.  Prints both sides when they differ.
require 'yaml'

def norm(doc, role)
  c = doc['classes']
  c = c.keys if c.is_a?(Hash)
  p = doc['parameters'] || {}
  p = p.merge('role' => role) if role && !p.key?('role')
  { 'classes' => (c || []).uniq.sort, 'parameters' => p,
    'environment' => doc['environment'] || 'production' }
end

want = norm(YAML.safe_load(File.read(ARGV[0])), ARGV[2])
got = norm(YAML.safe_load(File.read(ARGV[1])), nil)
exit 0 if want == got
warn "script:   #{want.inspect}"
warn "rendered: #{got.inspect}"
exit 1
